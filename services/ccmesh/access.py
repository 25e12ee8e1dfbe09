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

from ccmesh.auth import AuthError, Caller, TokenAuthority, authorize, authorize_brand, bearer_token


class _Context(Protocol):
    def invocation_metadata(self) -> Any: ...

    async def abort(self, code: grpc.StatusCode, details: str = "", /) -> Any: ...


class AccessControl:
    def __init__(self, authority: TokenAuthority) -> None:
        self._authority = authority

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
        try:
            caller = self._authority.verify(token)
            authorize(caller, tenant_id, roles)
            if brand_id is not None:
                authorize_brand(caller, brand_id)
        except AuthError as error:
            code = grpc.StatusCode.PERMISSION_DENIED if error.permission else grpc.StatusCode.UNAUTHENTICATED
            await context.abort(code, str(error))
            raise AssertionError("abort returned") from None  # pragma: no cover
        return caller

    async def require_brand(self, context: _Context, caller: Caller, brand_id: str) -> None:
        """Abort with PERMISSION_DENIED unless `caller` may see `brand_id` (after `require`)."""
        try:
            authorize_brand(caller, brand_id)
        except AuthError as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
