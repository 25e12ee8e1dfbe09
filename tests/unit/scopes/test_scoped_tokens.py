"""Scoped permissions: tokens carrying queues, regions and event types, and the checks on them."""

from __future__ import annotations

import grpc
import pytest

from ccmesh.access import AccessControl
from ccmesh.auth import AuthError, Caller, TokenAuthority, authorize_queue, authorize_region
from ccmesh.rpc_context import AbortRpc, NatsServicerContext

SECRET = "scope-secret-scope-secret"


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(SECRET)


def _context(token: str) -> NatsServicerContext:
    return NatsServicerContext({"authorization": f"Bearer {token}"}, deadline=1e12, peer="test")


def test_scopes_travel_in_the_token(authority: TokenAuthority) -> None:
    token = authority.mint(
        "acme",
        "supervisor",
        "sam",
        brands=["retail"],
        queues=["billing", "sales", "billing"],
        regions=["eu"],
        event_types=["contact_created"],
    )
    caller = authority.verify(token)
    assert caller.queues == {"billing", "sales"}
    assert caller.regions == {"eu"}
    assert caller.event_types == {"contact_created"}
    assert caller.brands == {"retail"}


def test_a_token_without_scopes_is_unlimited(authority: TokenAuthority) -> None:
    caller = authority.verify(authority.mint("acme", "admin", "ada"))
    assert caller.may_see_queue(name="any") and caller.may_act_in("us") and caller.may_receive("anything")


@pytest.mark.parametrize("scope", ["queues", "regions", "event_types", "brands"])
def test_the_service_role_takes_no_scope(authority: TokenAuthority, scope: str) -> None:
    with pytest.raises(ValueError, match=f"takes no {scope} scope"):
        authority.mint("*", "service", "routing", **{scope: ["a"]})  # type: ignore[arg-type]


def test_an_empty_scope_value_is_refused_naming_the_scope(authority: TokenAuthority) -> None:
    with pytest.raises(ValueError, match="queues: each must be a non-empty id"):
        authority.mint("acme", "agent", "a", queues=[""])


def test_queue_scope_limits_which_queues_are_seen() -> None:
    caller = Caller("acme", "supervisor", "sam", queues=frozenset({"a"}))
    assert caller.may_see_queue(name="a")
    assert not caller.may_see_queue(name="b")
    # Brand scope still applies on top of the queue scope.
    branded = Caller("acme", "supervisor", "sam", brands=frozenset({"x"}), queues=frozenset({"a"}))
    assert not branded.may_see_queue("y", name="a")
    assert branded.may_see_queue("x", name="a")
    assert not caller.may_see_queue()  # a queue-scoped caller must name the queue
    authorize_queue(caller, "a")
    with pytest.raises(AuthError, match="limited to queue\\(s\\) \\['a'\\] and may not access queue 'b'"):
        authorize_queue(caller, "b")


def test_region_scope_limits_where_the_caller_acts() -> None:
    admin = Caller("acme", "admin", "ada", regions=frozenset({"eu"}))
    authorize_region(admin, "eu")
    with pytest.raises(AuthError, match="region\\(s\\) \\['eu'\\] and may not act in region 'us'"):
        authorize_region(admin, "us")


def test_narrowing_to_brands_keeps_the_other_scopes() -> None:
    caller = Caller("acme", "supervisor", "sam", queues=frozenset({"a"}), regions=frozenset({"eu"}))
    narrowed = caller.limited_to(["retail"])
    assert narrowed.brands == {"retail"} and narrowed.queues == {"a"} and narrowed.regions == {"eu"}


async def test_access_control_refuses_a_token_of_another_region(authority: TokenAuthority) -> None:
    access = AccessControl(authority, region="us")
    token = authority.mint("acme", "admin", "ada", regions=["eu"])
    with pytest.raises(AbortRpc) as caught:
        await access.require(_context(token), "acme", {"admin"})
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert "may not act in region 'us'" in caught.value.message
    assert (
        await AccessControl(authority, region="eu").require(_context(token), "acme", {"admin"})
    ).subject == "ada"


async def test_require_queue_aborts_outside_the_scope(authority: TokenAuthority) -> None:
    access = AccessControl(authority)
    token = authority.mint("acme", "supervisor", "sam", queues=["a"])
    context = _context(token)
    caller = await access.require(context, "acme", {"supervisor"})
    await access.require_queue(context, caller, "a")
    with pytest.raises(AbortRpc) as caught:
        await access.require_queue(context, caller, "b")
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert "queue 'b'" in caught.value.message
