"""The tenant and role check that every RPC makes, on either transport.

    caller = await access.require(context, tenant_id, {"supervisor", "admin"})

reads the bearer token from the call metadata, verifies it, and aborts the call with
UNAUTHENTICATED (no or bad token) or PERMISSION_DENIED (other tenant, wrong role, a region,
brand or queue outside the token's scope). An empty tenant_id is INVALID_ARGUMENT: every call
names its tenant.

Being the one check every call passes, it is also where the audit log is written: each call by
a person or an integration, allowed or refused, becomes a record (`ccmesh.audit`); a queue or
brand refused later in the handler (`require_queue`, `require_brand`) is recorded as refused too.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Protocol

import grpc

from ccmesh.audit import DENIED, AuditLog, AuditRecord
from ccmesh.auth import (
    AuthError,
    Caller,
    TokenAuthority,
    authorize,
    authorize_brand,
    authorize_queue,
    authorize_region,
    bearer_token,
)
from ccmesh.rpc_context import current_method, current_request


class _Context(Protocol):
    def invocation_metadata(self) -> Any: ...

    async def abort(self, code: grpc.StatusCode, details: str = "", /) -> Any: ...


class AccessControl:
    def __init__(self, authority: TokenAuthority, *, region: str = "", audit: AuditLog | None = None) -> None:
        self._authority = authority
        #: The region this process serves: a region-scoped token must name it ("" skips the check).
        self.region = region
        self.audit = audit

    async def require(
        self, context: _Context, tenant_id: str, roles: Collection[str], *, brand_id: str | None = None
    ) -> Caller:
        """The verified caller, if it may act for `tenant_id` in one of `roles` (and, when
        `brand_id` is given, see that brand: "" means data of every brand); aborts otherwise."""
        if not tenant_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required")
        token = bearer_token(context.invocation_metadata() or ())
        if token is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing bearer token in authorization metadata"
            )
            raise AssertionError("abort returned")  # pragma: no cover - abort always raises
        caller: Caller | None = None
        try:
            caller = self._authority.verify(token)
            authorize(caller, tenant_id, roles)
            if self.region:
                authorize_region(caller, self.region)
            if brand_id is not None:
                authorize_brand(caller, brand_id)
        except AuthError as error:
            if caller is not None:
                await self.record(caller, tenant_id, outcome=DENIED, reason=str(error))
            code = grpc.StatusCode.PERMISSION_DENIED if error.permission else grpc.StatusCode.UNAUTHENTICATED
            await context.abort(code, str(error))
            raise AssertionError("abort returned") from None  # pragma: no cover
        await self.record(caller, tenant_id)
        return caller

    def verify(self, token: str) -> Caller:
        """The caller of `token`, if its signature, expiry and region scope hold (AuthError
        otherwise): for sessions that authenticate once, like the agent workspace socket."""
        caller = self._authority.verify(token)
        if self.region:
            authorize_region(caller, self.region)
        return caller

    async def require_brand(self, context: _Context, caller: Caller, brand_id: str) -> None:
        """Abort with PERMISSION_DENIED unless `caller` may see `brand_id` (after `require`)."""
        try:
            authorize_brand(caller, brand_id)
        except AuthError as error:
            await self.record(caller, caller.tenant_id, outcome=DENIED, reason=str(error))
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))

    async def require_queue(self, context: _Context, caller: Caller, queue: str) -> None:
        """Abort with PERMISSION_DENIED unless `caller`'s queue scope covers `queue` (after `require`)."""
        try:
            authorize_queue(caller, queue)
        except AuthError as error:
            await self.record(caller, caller.tenant_id, outcome=DENIED, reason=str(error))
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))

    async def deny(self, context: _Context, caller: Caller, message: str) -> None:
        """Abort with PERMISSION_DENIED for a scope the handler checked itself, recording it."""
        await self.record(caller, caller.tenant_id, outcome=DENIED, reason=message)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)

    async def record(
        self,
        caller: Caller,
        tenant_id: str,
        *,
        action: str = "",
        outcome: str = "allowed",
        reason: str = "",
        target: str = "",
        kind: str = "",
    ) -> None:
        """Write an audit record of `caller`'s call (the current RPC unless `action` names
        another); calls between platform services are not recorded."""
        if self.audit is None or caller.role == "service":
            return
        await self.audit.append(
            AuditRecord(
                at=time.time(),
                region=self.region,
                tenant_id=tenant_id or caller.tenant_id,
                actor=caller.subject,
                role=caller.role,
                action=action or current_method.get() or "unknown",
                outcome=outcome,
                reason=reason,
                target=target,
                kind=kind,
                request=current_request.get(),
            )
        )
