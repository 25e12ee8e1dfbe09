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

Further scopes, each empty meaning "no limit" like brands: queues (`q`, an agent's or a
supervisor's queues: their contacts and statistics), regions (`g`, an admin's regions: the
services of another region refuse the token) and event types (`v`, what an integration may
subscribe to). `auditor` is a tenant role that may read the audit log and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

import orjson

ROLES = frozenset({"admin", "supervisor", "agent", "integration", "auditor", "service"})
ANY_TENANT = "*"
_PREFIX = "cct1"
#: Verified tokens remembered per authority; beyond this the memory starts afresh.
VERIFIED_CACHE_SIZE = 10_000


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
    #: The queues whose contacts and statistics the caller may see; empty: every queue.
    queues: frozenset[str] = frozenset()
    #: The regions whose services accept the caller; empty: every region.
    regions: frozenset[str] = frozenset()
    #: The event types the caller may subscribe to; empty: every type.
    event_types: frozenset[str] = frozenset()

    def may_act_for(self, tenant_id: str) -> bool:
        return self.tenant_id == tenant_id or (self.role == "service" and self.tenant_id == ANY_TENANT)

    def may_see_brand(self, brand_id: str) -> bool:
        """Whether the caller may read or act on `brand_id`'s data ("" is the whole tenant's)."""
        return not self.brands or brand_id in self.brands

    def may_see_queue(self, brand: str = "", shared_brands: Collection[str] = (), *, name: str = "") -> bool:
        """Queue `name` of `brand` whose agents are shared with `shared_brands`: visible to callers of
        those brands (a queue without a brand serves the whole tenant, so every brand sees it) whose
        queue scope, if they have one, names it (unnamed: refused to a queue-scoped caller)."""
        if self.queues and name not in self.queues:
            return False
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
        return replace(self, brands=wanted)

    def may_act_in(self, region: str) -> bool:
        return not self.regions or region in self.regions

    def may_receive(self, event_type: str) -> bool:
        """Whether the caller may subscribe to events of `event_type`."""
        return not self.event_types or event_type in self.event_types

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
        #: Tokens whose signature was verified: token -> (caller, expiry).
        self._verified: dict[str, tuple[Caller, int]] = {}

    def mint(
        self,
        tenant_id: str,
        role: str,
        subject: str,
        ttl_seconds: int = 3600,
        brands: Collection[str] = (),
        *,
        queues: Collection[str] = (),
        regions: Collection[str] = (),
        event_types: Collection[str] = (),
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {sorted(ROLES)}")
        if tenant_id == ANY_TENANT and role != "service":
            raise ValueError("only the service role may act for every tenant")
        scopes = {"brands": brands, "queues": queues, "regions": regions, "event_types": event_types}
        for name, values in scopes.items():
            if values and role == "service":
                raise ValueError(f"the service role acts everywhere; it takes no {name} scope")
            if any(not value or not isinstance(value, str) for value in values):
                raise ValueError(f"{name}: each must be a non-empty id, got {sorted(values)!r}")
        claims: dict[str, object] = {
            "t": tenant_id,
            "r": role,
            "s": subject,
            "e": int(time.time()) + ttl_seconds,
        }
        for claim, values in (("b", brands), ("q", queues), ("g", regions), ("v", event_types)):
            if values:
                claims[claim] = sorted(set(values))
        payload = _b64(orjson.dumps(claims))
        return f"{_PREFIX}.{payload}.{self._sign(payload)}"

    def verify(self, token: str, now: float | None = None) -> Caller:
        # A person's token comes back on every call of a session: its signature is checked once,
        # its expiry on every call.
        known = self._verified.get(token)
        if known is not None:
            if known[1] < (time.time() if now is None else now):
                raise AuthError("token has expired", permission=False)
            return known[0]
        caller, expiry = self._verify(token, now)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (caller, expiry)
        return caller

    def _verify(self, token: str, now: float | None) -> tuple[Caller, int]:
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
            brands, queues, regions, event_types = (
                frozenset(str(value) for value in claims.get(claim, ())) for claim in ("b", "q", "g", "v")
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuthError("malformed token payload", permission=False) from None
        if expiry < (time.time() if now is None else now):
            raise AuthError("token has expired", permission=False)
        if role not in ROLES:
            raise AuthError(f"token names an unknown role {role!r}", permission=False)
        caller = Caller(
            tenant_id=str(tenant),
            role=str(role),
            subject=str(subject),
            brands=brands,
            queues=queues,
            regions=regions,
            event_types=event_types,
        )
        return caller, expiry

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


def authorize_region(caller: Caller, region: str) -> None:
    """Raise unless the caller's region scope covers `region`."""
    if not caller.may_act_in(region):
        raise AuthError(
            f"caller is limited to region(s) {sorted(caller.regions)} and may not act in region {region!r}",
            permission=True,
        )


def authorize_queue(caller: Caller, queue: str) -> None:
    """Raise unless the caller's queue scope covers `queue` (brand scope is the queue owner's check)."""
    if not caller.may_see_queue(name=queue):
        raise AuthError(
            f"caller is limited to queue(s) {sorted(caller.queues)} and may not access queue {queue!r}",
            permission=True,
        )
