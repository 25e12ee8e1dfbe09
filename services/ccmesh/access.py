"""The tenant and role check that every RPC makes, on either transport.

    caller = await access.require(context, tenant_id, {"supervisor", "admin"})

reads the bearer token from the call metadata, verifies it, and aborts the call with
UNAUTHENTICATED (no or bad token) or PERMISSION_DENIED (other tenant, wrong role).
An empty tenant_id is INVALID_ARGUMENT: every call names its tenant.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import grpc

from ccmesh.auth import AuthError, Caller, TokenAuthority, authorize, bearer_token


class _Context(Protocol):
    def invocation_metadata(self) -> Any: ...

    async def abort(self, code: grpc.StatusCode, details: str = "", /) -> Any: ...


class AccessControl:
    def __init__(self, authority: TokenAuthority) -> None:
        self._authority = authority

    async def require(self, context: _Context, tenant_id: str, roles: Collection[str]) -> Caller:
        if not tenant_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required")
        token = bearer_token(context.invocation_metadata() or ())
        if token is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing bearer token in authorization metadata"
            )
            raise AssertionError("abort returned")  # pragma: no cover - abort always raises
        try:
            caller = self._authority.verify(token)
            authorize(caller, tenant_id, roles)
        except AuthError as error:
            code = grpc.StatusCode.PERMISSION_DENIED if error.permission else grpc.StatusCode.UNAUTHENTICATED
            await context.abort(code, str(error))
            raise AssertionError("abort returned") from None  # pragma: no cover
        return caller
