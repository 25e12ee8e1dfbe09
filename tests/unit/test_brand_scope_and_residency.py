"""Brands as an access boundary (token scope, queue visibility, endpoint/queue brand checks) and
the residency rule for follow-the-sun hand-overs (pseudonymous regions may take them)."""

from __future__ import annotations

import pytest

from ccctl.main import main
from ccmesh.auth import AuthError, Caller, TokenAuthority, authorize_brand
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.loader import ConfigFileError, parse_documents
from ccmesh.configplane.references import endpoint_brand_problems, endpoint_queue_problem

SECRET = "brand-scope-secret-0123456789"
RETAIL = frozenset({"acme-retail"})


def test_a_token_carries_its_brand_scope_and_one_without_brands_sees_every_brand() -> None:
    authority = TokenAuthority(SECRET)
    scoped = authority.verify(authority.mint("acme", "agent", "alice", brands=["acme-retail"]))
    assert scoped == Caller("acme", "agent", "alice", RETAIL)
    assert scoped.may_see_brand("acme-retail") and not scoped.may_see_brand("acme-bank")
    assert not scoped.may_see_brand("")  # "" is every brand's data: not for a scoped caller
    wide = authority.verify(authority.mint("acme", "supervisor", "sam"))
    assert wide.brands == frozenset() and wide.may_see_brand("acme-bank") and wide.may_see_brand("")


def test_authorize_brand_refuses_another_brand_naming_both() -> None:
    with pytest.raises(AuthError) as refused:
        authorize_brand(Caller("acme", "agent", "alice", RETAIL), "acme-bank")
    assert refused.value.permission is True
    assert "acme-retail" in str(refused.value) and "acme-bank" in str(refused.value)
    authorize_brand(Caller("acme", "agent", "alice", RETAIL), "acme-retail")
    authorize_brand(Caller("*", "service", "gateway"), "acme-bank")


@pytest.mark.parametrize(
    ("role", "brands", "named"),
    [("service", ["acme-retail"], "service role"), ("agent", [""], "brands")],
)
def test_bad_brand_scopes_are_not_minted(role: str, brands: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        TokenAuthority(SECRET).mint("*" if role == "service" else "acme", role, "x", brands=brands)


def test_queues_and_agents_a_scoped_caller_sees() -> None:
    retail = Caller("acme", "supervisor", "sam", RETAIL)
    assert retail.may_see_queue("acme-retail")
    assert not retail.may_see_queue("acme-bank")
    assert retail.may_see_queue("acme-bank", shared_brands=["acme-retail"])  # a shared pool
    assert retail.may_see_queue("")  # a tenant-wide queue
    assert retail.may_see_agent(["acme-retail", "acme-bank"]) and not retail.may_see_agent(["acme-bank"])


def test_a_service_narrowed_for_a_person_sees_only_their_brands() -> None:
    service = Caller("*", "service", "gateway")
    narrowed = service.limited_to(["acme-retail"])
    assert not narrowed.may_see_queue("acme-bank") and narrowed.may_see_queue("acme-retail")
    assert service.limited_to([]) is service
    with pytest.raises(AuthError, match="acme-bank"):
        Caller("acme", "supervisor", "sam", RETAIL).limited_to(["acme-bank"])


def test_ccctl_token_mints_a_brand_scoped_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    assert (
        main(["token", "--tenant", "acme", "--role", "agent", "--subject", "a", "--brand", "acme-bank"]) == 0
    )
    token = capsys.readouterr().out.strip()
    assert TokenAuthority(SECRET).verify(token).brands == frozenset({"acme-bank"})


CENTER = """\
apiVersion: contactcenter.dev/v1alpha1
kind: ContactCenter
metadata:
  name: eu
spec:
  region: eu
  knownRegions: [eu, us, latam]
  timeZone: Europe/Berlin
  tenants:
    - id: acme
      brandSharing: isolated
      brands:
        - id: acme-retail
        - id: acme-bank
      residency:
        personalDataRegions: []
        pseudonymousRegions: [us]
  routing:
    overflow:
      - name: follow-the-sun
        tenant: acme
        queue: after-hours
        targetQueue: support
        targetRegion: REGION
        action: move
        waitSecondsOver: 0
"""


def test_a_hand_over_to_a_pseudonymous_region_is_allowed() -> None:
    (center,) = parse_documents(CENTER.replace("REGION", "us"), "eu.yaml")
    assert center.document.spec.routing.overflow[0].target_region == "us"  # type: ignore[attr-defined]


def test_a_hand_over_to_a_region_the_residency_does_not_list_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigFileError) as refused:
        parse_documents(CENTER.replace("REGION", "latam"), "eu.yaml")
    message = str(refused.value)
    assert "follow-the-sun" in message and "targetRegion" in message and "'latam'" in message


def _endpoint(brand: str, queue: str = "support") -> ChannelEndpoint:
    text = f"""\
apiVersion: contactcenter.dev/v1alpha1
kind: ChannelEndpoint
metadata:
  name: bank-chat
spec:
  region: eu
  tenant: acme
  brand: {brand}
  channel: webchat
  provider: webchat
  address: bank-widget
  queue: {queue}
"""
    (endpoint,) = parse_documents(text, "bank.yaml")
    assert isinstance(endpoint.document, ChannelEndpoint)
    return endpoint.document


def test_an_endpoint_handing_its_customers_to_another_brands_queue_is_refused_naming_the_field() -> None:
    queues = {
        "support": ("acme-retail", []),
        "bank": ("acme-bank", []),
        "pool": ("acme-retail", ["acme-bank"]),
    }
    problem = endpoint_queue_problem(_endpoint("acme-bank", "support"), queues)
    assert "channelendpoint/bank-chat: spec.queue" in problem and "acme-retail" in problem
    assert endpoint_queue_problem(_endpoint("acme-bank", "bank"), queues) == ""
    assert endpoint_queue_problem(_endpoint("acme-bank", "pool"), queues) == ""  # shared with the bank
    assert endpoint_queue_problem(_endpoint("acme-bank", "later"), queues) == ""  # not configured yet


def test_an_endpoint_of_a_brand_its_tenant_lacks_is_refused_naming_the_field() -> None:
    (center,) = parse_documents(CENTER.replace("REGION", "us"), "eu.yaml")
    problems = endpoint_brand_problems([center.document, _endpoint("acme-outlet")])
    assert len(problems) == 1 and "spec.brand" in problems[0] and "acme-outlet" in problems[0]
    assert endpoint_brand_problems([center.document, _endpoint("acme-bank")]) == []
