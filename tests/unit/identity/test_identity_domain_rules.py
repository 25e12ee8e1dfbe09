"""Pure identity rules: matching, keyed hashes, crossings, timeline entries, attributes, agents, tokens."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from identity.domain.agents import (
    Agent,
    InvalidAgent,
    check_token_request,
    is_opaque_token,
    new_token,
    token_hash,
)
from identity.domain.customer import MAX_ATTRIBUTES, Customer, InvalidAttributes, check_attributes
from identity.domain.identifiers import Identifier, IdentifierKind
from identity.domain.matching import MatchingRules, decide
from identity.domain.residency import CrossingKind, IndexKeys, crossing_kind
from identity.domain.timeline import (
    AI_INSIGHT,
    CONTACT,
    MESSAGE_IN,
    OUTCOME,
    TRANSFER,
    ContactLink,
    entry_from_event,
)

PHONE = Identifier(IdentifierKind.PHONE, "+4915123456789")
EMAIL = Identifier(IdentifierKind.EMAIL, "jane@example.com")
CRM = Identifier(IdentifierKind.CRM_EXTERNAL_ID, "SF-1")


def test_the_first_exact_owner_in_the_callers_order_decides_and_unowned_identifiers_are_claimed() -> None:
    decision = decide(MatchingRules(), {EMAIL: "c2", PHONE: "c1", CRM: None})
    assert (decision.customer_id, decision.rule) == ("c2", "exact:email")
    assert decision.unclaimed == (CRM,)
    assert decision.suggestions == ()


def test_suggest_rules_report_owners_without_resolving_to_them() -> None:
    rules = MatchingRules.of(exact=["phone"], suggest=["email"])
    decision = decide(rules, {EMAIL: "c2", PHONE: None})
    assert decision.customer_id is None
    assert [(s.customer_id, s.rule) for s in decision.suggestions] == [("c2", "suggest:email")]
    assert decision.unclaimed == (PHONE,)
    # An owner named by both an exact and a suggest identifier is not suggested to itself.
    both = decide(rules, {PHONE: "c2", EMAIL: "c2"})
    assert both.customer_id == "c2" and both.suggestions == ()


def test_kinds_in_no_rule_neither_match_nor_suggest() -> None:
    decision = decide(MatchingRules.of(exact=["phone"], suggest=[]), {CRM: "c9", PHONE: None})
    assert decision.customer_id is None and decision.suggestions == () and decision.unclaimed == (PHONE,)


def test_identifier_hashes_are_keyed_per_tenant_and_never_contain_the_value() -> None:
    keys = IndexKeys(b"k" * 32)
    acme, globex = keys.identifier_hash("acme", PHONE), keys.identifier_hash("globex", PHONE)
    assert acme != globex
    assert acme.startswith("phone.") and "4915123456789" not in acme
    assert IndexKeys(b"other-secret-123456").identifier_hash("acme", PHONE) != acme
    assert keys.identifier_hash("acme", PHONE) == acme  # stable: every region computes the same
    assert keys.reference("acme", "eu", "c1").startswith("psr_")
    assert keys.reference("acme", "eu", "c1") != keys.reference("acme", "eu", "c2")


@pytest.mark.parametrize(
    ("region", "expected"),
    [("us", CrossingKind.PERSONAL), ("latam", CrossingKind.PSEUDONYMOUS), ("ap", CrossingKind.NONE)],
)
def test_the_home_regions_policy_decides_what_crosses(region: str, expected: CrossingKind) -> None:
    assert crossing_kind(region, ["us"], ["us", "latam"]) is expected


def _event(**payload: object) -> events_pb2.Event:
    at = Timestamp(seconds=1_700_000_000, nanos=500_000_000)
    return events_pb2.Event(event_id="e1", contact_id="k1", occurred_at=at, **payload)  # type: ignore[arg-type]


def test_events_become_timeline_entries_and_the_rest_are_ignored() -> None:
    created = entry_from_event(
        _event(contact_created=events_pb2.ContactCreated(channel=2, customer_id="c1", entry_point="sales")),
        None,
    )
    assert created is not None and (created.kind, created.channel, created.customer_id) == (CONTACT, 2, "c1")
    assert created.at == 1_700_000_000.5
    message = entry_from_event(
        _event(message_received=events_pb2.MessageReceived(customer_id="c1", text="hi")), None
    )
    assert message is not None and (message.kind, message.summary) == (MESSAGE_IN, "hi")
    link = ContactLink("c1", 4)
    moved = entry_from_event(
        _event(contact_transferred=events_pb2.ContactTransferred(from_queue="a", to_queue="b")), link
    )
    assert moved is not None and (moved.kind, moved.channel) == (TRANSFER, 4)
    closed = entry_from_event(_event(contact_closed=events_pb2.ContactClosed(outcome="sold")), link)
    assert closed is not None and (closed.kind, closed.summary) == (OUTCOME, "sold")
    if "ai_insight" in events_pb2.Event.DESCRIPTOR.fields_by_name:
        insight = events_pb2.Event(event_id="e2", contact_id="k1")
        insight.ai_insight.intent = "refund"
        insight.ai_insight.pipeline = "default"
        insight.ai_insight.message_id = "0f" * 16
        found = entry_from_event(insight, link)
        assert found is not None and found.kind == AI_INSIGHT and "Intent: refund" in found.summary
        # Told for people: no internal record (pipeline, message id, raw fields).
        assert "ai:" not in found.summary and "0f0f" not in found.summary and "=" not in found.summary
        # A voice insight of a contact that began as a chat is labelled voice.
        insight.ai_insight.channel = common_pb2.CHANNEL_KIND_VOICE
        insight.ai_insight.intent = "out_of_scope"
        voiced = entry_from_event(insight, link)
        assert voiced is not None and voiced.channel == common_pb2.CHANNEL_KIND_VOICE
        assert voiced.summary.startswith("Intent: unknown")
    # Without a known contact, later events cannot be placed; queueing events are not history.
    assert entry_from_event(_event(contact_closed=events_pb2.ContactClosed(outcome="x")), None) is None
    assert entry_from_event(_event(contact_queued=events_pb2.ContactQueued(queue="q")), link) is None
    assert entry_from_event(_event(message_received=events_pb2.MessageReceived(text="anon")), None) is None


def test_attribute_maps_over_the_limits_are_refused_naming_the_limit() -> None:
    assert check_attributes({"tier": "gold"}) == {"tier": "gold"}
    with pytest.raises(InvalidAttributes, match=f"the maximum is {MAX_ATTRIBUTES}"):
        check_attributes({str(n): "" for n in range(MAX_ATTRIBUTES + 1)})
    with pytest.raises(InvalidAttributes, match="bytes"):
        check_attributes({"notes": "x" * 17000})
    with pytest.raises(InvalidAttributes, match="empty"):
        check_attributes({"": "x"})


def test_merge_state_round_trips_and_old_profiles_without_it_still_load() -> None:
    customer = Customer("c1", "acme", "acme", "eu", (PHONE,), merged_from=("c2",), merged_into="")
    assert Customer.from_json(customer.to_json()) == customer
    legacy = b'{"customer_id":"c1","tenant_id":"acme","scope":"acme","home_region":"eu","identifiers":[]}'
    assert Customer.from_json(legacy).merged_from == ()
    assert customer.with_identifiers([EMAIL]).without_identifiers((EMAIL,)) == customer


def _agent(**changes: object) -> Agent:
    fields: dict[str, object] = {
        "agent_id": "a1",
        "tenant_id": "acme",
        "display_name": "Ada",
        "skills": {"billing": 3},
        "languages": ("en", "pt-BR"),
        "channels": {2: 5},
        "brands": ("b1",),
        "queues": ("q",),
        "home_region": "eu",
    }
    fields.update(changes)
    return Agent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"skills": {"billing": 0}}, "proficiency must be 1-5"),
        ({"skills": {"billing": 6}}, "proficiency must be 1-5"),
        ({"languages": ("english",)}, "BCP 47"),
        ({"channels": {2: 51}}, "max_concurrent"),
        ({"channels": {0: 1}}, "unspecified"),
        ({"brands": ("nope",)}, "nope"),
        ({"agent_id": "a b"}, "agent_id"),
    ],
)
def test_bad_agents_are_refused_naming_the_field(changes: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidAgent, match=named):
        _agent(**changes).validate({"b1"})


def test_agents_round_trip() -> None:
    agent = _agent().validate({"b1"})
    assert Agent.from_json(agent.to_json()) == agent


def test_opaque_tokens_are_random_and_only_their_hash_is_kept() -> None:
    token, token_id = new_token()
    other, _ = new_token()
    assert is_opaque_token(token) and token_id in token and token != other
    assert token_hash(token) != token_hash(other) and token not in token_hash(token)
    assert not is_opaque_token("cct1.payload.signature")
    check_token_request("agent", ["customers:read"], 600)
    for role, scopes, ttl, named in (
        ("root", [], 600, "role"),
        ("agent", ["all"], 600, "scopes"),
        ("agent", [], 1, "ttl"),
    ):
        with pytest.raises(InvalidAgent, match=named):
            check_token_request(role, scopes, ttl)
