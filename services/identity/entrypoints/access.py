"""Access for the identity service's RPCs: the platform's signed tokens, plus opaque API tokens.

Signed `cct1` tokens go through `ccmesh.access.AccessControl` unchanged. An opaque `ccat_`
token is looked up by its SHA-256 hash (the token itself is never stored); it must be neither
revoked nor expired, belong to the tenant asked for, have an allowed role and, when the method
names a scope, carry that scope.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.audit import AuditLog
from ccmesh.auth import Caller, bearer_token
from identity.adapters.agent_store import AgentStore
from identity.domain.agents import is_opaque_token, token_hash


class IdentityAccess:
    def __init__(self, access: AccessControl, agents: AgentStore) -> None:
        self._access = access
        self._agents = agents

    async def require(
        self, context: Any, tenant_id: str, roles: Collection[str], scope: str | None = None
    ) -> Caller:
        token = bearer_token(context.invocation_metadata() or ())
        if token is None or not is_opaque_token(token):
            return await self._access.require(context, tenant_id, roles)
        if not tenant_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required")
        record = await self._agents.token(token_hash(token))
        if record is None or record.revoked:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API token is unknown or revoked")
            raise AssertionError("abort returned")  # pragma: no cover
        if record.expires_at < time.time():
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API token has expired")
        if record.tenant_id != tenant_id:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"caller of tenant {record.tenant_id!r} may not access tenant {tenant_id!r}",
            )
        if record.role not in roles:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"role {record.role!r} may not call this method; allowed: {sorted(roles)}",
            )
        if scope is not None and scope not in record.scopes:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"API token lacks the scope {scope!r}")
        caller = Caller(tenant_id=record.tenant_id, role=record.role, subject=record.subject)
        await self._access.record(caller, tenant_id)
        return caller

    @property
    def audit(self) -> AuditLog | None:
        """The region's audit log (None where none is kept, e.g. in unit tests)."""
        return self._access.audit
