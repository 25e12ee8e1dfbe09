"""Caller identity: signed API tokens, and the tenant/role check every RPC makes.

A token is `cct1.<payload>.<signature>`: the payload (base64url JSON) names the tenant, the
role, the subject and the expiry; the signature is HMAC-SHA256 with the platform's auth
secret. Services verify it locally (no round trip per call). Tokens travel in the
`authorization` metadata (`Bearer <token>`) on gRPC and the `Authorization` header on NATS.

Roles: `admin`, `supervisor`, `agent`, `integration` act inside one tenant; `service` is
what platform services use between themselves and may act for any tenant (`*`).

Brand scope: a token may name brands (`b`); its caller then sees only those brands' customers,
contacts, timelines and queues (`authorize_brand`). A token without brands sees every brand of
its tenant, as before brand scopes existed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import orjson

ROLES = frozenset({"admin", "supervisor", "agent", "integration", "service"})
ANY_TENANT = "*"
_PREFIX = "cct1"


class AuthError(Exception):
    """Authentication or authorisation failed. `permission` tells which of the two."""

    def __init__(self, message: str, *, permission: bool) -> None:
        super().__init__(message)
        self.permission = permission


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    role: str
    subject: str
    #: The brands the caller is limited to; empty: every brand of its tenant.
    brands: frozenset[str] = frozenset()

    def may_act_for(self, tenant_id: str) -> bool:
        return self.tenant_id == tenant_id or (self.role == "service" and self.tenant_id == ANY_TENANT)

    def may_see_brand(self, brand_id: str) -> bool:
        """Whether the caller may read or act on `brand_id`'s data ("" is the whole tenant's)."""
        return not self.brands or brand_id in self.brands

    def may_see_queue(self, brand: str, shared_brands: Collection[str] = ()) -> bool:
        """A queue of `brand` whose agents are shared with `shared_brands`: visible to callers of
        those brands; a queue without a brand serves the whole tenant, so everyone sees it."""
        if not brand or self.may_see_brand(brand):
            return True
        return bool(self.brands & frozenset(shared_brands))

    def limited_to(self, brands: Collection[str]) -> Caller:
        """The caller narrowed to `brands` as well: a service asking for a brand-scoped person.

        A brand-scoped caller may narrow only inside its own scope (AuthError otherwise)."""
        wanted = frozenset(brands)
        if not wanted:
            return self
        outside = sorted(wanted - self.brands) if self.brands else []
        if outside:
            raise AuthError(
                f"caller is limited to brand(s) {sorted(self.brands)} and may not access brand(s) {outside}",
                permission=True,
            )
        return Caller(self.tenant_id, self.role, self.subject, wanted)

    def may_see_agent(self, agent_brands: Collection[str]) -> bool:
        """An agent serving one of the caller's brands (or every brand: no brands listed)."""
        return not agent_brands or any(self.may_see_brand(brand) for brand in agent_brands)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Mints and verifies tokens with one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("auth secret must be at least 16 characters")
        self._key = secret.encode()

    def mint(
        self,
        tenant_id: str,
        role: str,
        subject: str,
        ttl_seconds: int = 3600,
        brands: Collection[str] = (),
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {sorted(ROLES)}")
        if tenant_id == ANY_TENANT and role != "service":
            raise ValueError("only the service role may act for every tenant")
        if brands and role == "service":
            raise ValueError("the service role acts for every brand; it takes no brand scope")
        if any(not brand or not isinstance(brand, str) for brand in brands):
            raise ValueError(f"brands: each must be a non-empty brand id, got {sorted(brands)!r}")
        claims: dict[str, object] = {
            "t": tenant_id,
            "r": role,
            "s": subject,
            "e": int(time.time()) + ttl_seconds,
        }
        if brands:
            claims["b"] = sorted(set(brands))
        payload = _b64(orjson.dumps(claims))
        return f"{_PREFIX}.{payload}.{self._sign(payload)}"

    def verify(self, token: str, now: float | None = None) -> Caller:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise AuthError("malformed token", permission=False)
        _, payload, signature = parts
        # Bytes, not str: compare_digest raises TypeError on non-ASCII str, and the caller
        # controls this text.
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise AuthError("token signature is invalid", permission=False)
        try:
            claims = orjson.loads(_unb64(payload))
            tenant, role, subject, expiry = claims["t"], claims["r"], claims["s"], int(claims["e"])
            brands = frozenset(str(b) for b in claims.get("b", ()))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuthError("malformed token payload", permission=False) from None
        if expiry < (time.time() if now is None else now):
            raise AuthError("token has expired", permission=False)
        if role not in ROLES:
            raise AuthError(f"token names an unknown role {role!r}", permission=False)
        return Caller(tenant_id=str(tenant), role=str(role), subject=str(subject), brands=brands)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{_PREFIX}.{payload}".encode(), hashlib.sha256).digest())


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    for key, value in metadata:
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def authorize(caller: Caller, tenant_id: str, roles: Collection[str]) -> None:
    """Raise unless the caller may act for `tenant_id` in one of `roles` (the service role always may)."""
    if not caller.may_act_for(tenant_id):
        raise AuthError(
            f"caller of tenant {caller.tenant_id!r} may not access tenant {tenant_id!r}", permission=True
        )
    if caller.role != "service" and caller.role not in roles:
        raise AuthError(
            f"role {caller.role!r} may not call this method; allowed: {sorted(roles)}", permission=True
        )


def authorize_brand(caller: Caller, brand_id: str) -> None:
    """Raise unless the caller's brand scope covers `brand_id` (the service role's always does)."""
    if caller.may_see_brand(brand_id):
        return
    named = f"brand {brand_id!r}" if brand_id else "data of every brand"
    raise AuthError(
        f"caller is limited to brand(s) {sorted(caller.brands)} and may not access {named}", permission=True
    )
