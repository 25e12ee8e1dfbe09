"""Tokens, tenant/role checks and bearer parsing (ccmesh.auth, ccmesh.access): no I/O."""

from __future__ import annotations

import base64
import time

import grpc
import orjson
import pytest

from ccmesh.access import AccessControl
from ccmesh.auth import ANY_TENANT, AuthError, Caller, TokenAuthority, authorize, bearer_token
from ccmesh.rpc_context import AbortRpc, NatsServicerContext

SECRET = "s3cret-s3cret-s3cret-s3cret"


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(SECRET)


def test_minted_token_verifies_to_its_caller(authority: TokenAuthority) -> None:
    token = authority.mint("acme", "agent", "agent-7")
    assert token.startswith("cct1.")
    assert authority.verify(token) == Caller(tenant_id="acme", role="agent", subject="agent-7")


def test_token_of_another_secret_is_rejected(authority: TokenAuthority) -> None:
    token = TokenAuthority("another-secret-of-enough-length").mint("acme", "agent", "a")
    with pytest.raises(AuthError, match="signature") as caught:
        authority.verify(token)
    assert caught.value.permission is False


def test_tampered_payload_is_rejected(authority: TokenAuthority) -> None:
    prefix, _, signature = authority.mint("acme", "agent", "a").split(".")
    forged = base64.urlsafe_b64encode(
        orjson.dumps({"t": "acme", "r": "admin", "s": "a", "e": int(time.time()) + 3600})
    )
    with pytest.raises(AuthError, match="signature"):
        authority.verify(f"{prefix}.{forged.decode().rstrip('=')}.{signature}")


def test_tampered_signature_is_rejected(authority: TokenAuthority) -> None:
    token = authority.mint("acme", "agent", "a")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthError, match="signature"):
        authority.verify(flipped)


@pytest.mark.parametrize("token", ["", "cct1", "cct1.a", "cct2.a.b", "cct1.a.b.c", "Bearer x"])
def test_malformed_tokens_are_rejected(authority: TokenAuthority, token: str) -> None:
    with pytest.raises(AuthError, match="malformed") as caught:
        authority.verify(token)
    assert caught.value.permission is False


def test_non_ascii_signature_is_an_auth_error_not_a_crash(authority: TokenAuthority) -> None:
    # A caller controls the token text; garbage must be UNAUTHENTICATED, never an internal error.
    payload = authority.mint("acme", "agent", "a").split(".")[1]
    with pytest.raises(AuthError, match="signature"):
        authority.verify(f"cct1.{payload}.sïgnature")


def test_expired_token_is_rejected(authority: TokenAuthority) -> None:
    token = authority.mint("acme", "agent", "a", ttl_seconds=60)
    authority.verify(token, now=time.time() + 30)
    with pytest.raises(AuthError, match="expired"):
        authority.verify(token, now=time.time() + 120)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16"):
        TokenAuthority("too-short")


def test_unknown_role_cannot_be_minted(authority: TokenAuthority) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        authority.mint("acme", "root", "a")


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent", "integration"])
def test_only_the_service_role_may_be_minted_for_every_tenant(authority: TokenAuthority, role: str) -> None:
    with pytest.raises(ValueError, match="service role"):
        authority.mint(ANY_TENANT, role, "a")
    caller = authority.verify(authority.mint(ANY_TENANT, "service", "routing"))
    assert caller.may_act_for("acme") and caller.may_act_for("globex")


def test_wildcard_tenant_with_another_role_acts_for_nobody() -> None:
    caller = Caller(tenant_id=ANY_TENANT, role="admin", subject="x")
    assert not caller.may_act_for("acme")
    with pytest.raises(AuthError) as caught:
        authorize(caller, "acme", {"admin"})
    assert caught.value.permission is True


def test_authorize_accepts_own_tenant_and_allowed_role() -> None:
    authorize(Caller("acme", "supervisor", "s"), "acme", {"supervisor", "admin"})


def test_authorize_refuses_another_tenant() -> None:
    with pytest.raises(AuthError, match="may not access tenant 'globex'") as caught:
        authorize(Caller("acme", "admin", "s"), "globex", {"admin"})
    assert caught.value.permission is True


def test_authorize_refuses_a_role_not_allowed() -> None:
    with pytest.raises(AuthError, match="role 'agent' may not call") as caught:
        authorize(Caller("acme", "agent", "s"), "acme", {"supervisor", "admin"})
    assert caught.value.permission is True


def test_service_role_passes_any_role_check_within_its_tenant_scope() -> None:
    authorize(Caller(ANY_TENANT, "service", "routing"), "acme", {"admin"})


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ([("authorization", "Bearer abc.def")], "abc.def"),
        ([("Authorization", "bearer   tok  ")], "tok"),
        ([("x-other", "1"), ("authorization", b"Bearer bytes-token")], "bytes-token"),
        ([("authorization", "Basic dXNlcjpwYXNz")], None),
        ([("authorization", "abc")], None),
        ([("x-other", "Bearer not-this")], None),
        ([], None),
    ],
)
def test_bearer_token_parsing(metadata: list[tuple[str, str | bytes]], expected: str | None) -> None:
    assert bearer_token(metadata) == expected


def _context(headers: dict[str, str] | None) -> NatsServicerContext:
    return NatsServicerContext(headers, deadline=time.monotonic() + 5, peer="test")


async def test_access_control_maps_failures_to_grpc_codes(authority: TokenAuthority) -> None:
    access = AccessControl(authority)
    good = {"Authorization": f"Bearer {authority.mint('acme', 'admin', 'a')}"}
    caller = await access.require(_context(good), "acme", {"admin"})
    assert caller.tenant_id == "acme"
    cases = [
        (_context(good), "", grpc.StatusCode.INVALID_ARGUMENT),
        (_context(None), "acme", grpc.StatusCode.UNAUTHENTICATED),
        (_context({"Authorization": "Bearer cct1.x.y"}), "acme", grpc.StatusCode.UNAUTHENTICATED),
        (_context(good), "globex", grpc.StatusCode.PERMISSION_DENIED),
    ]
    for context, tenant, code in cases:
        with pytest.raises(AbortRpc) as caught:
            await access.require(context, tenant, {"admin"})
        assert caught.value.code == code, (tenant, caught.value)
