"""A `redaction` rule: the events of a handed-over contact leave their home region only with the
customer's personal data redacted, and without the customer's name; a customer's profile (which
cannot be redacted) does not leave at all, only the pseudonymous reference does, and the refusal
is published naming the rule. Without the rule (or with it in another region) both cross as the
residency policy allows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ccmesh.envelope import new_event
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import RedactionRule, RuleSet
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.domain.policy_redaction import ANONYMOUS_NAME, redacted_for_crossing
from gateway.service_layer.handed_over import HandedOverContacts
from identity.domain.residency import CrossingKind, IndexKeys
from identity.service_layer.crossings import profile_refusal_by, resolve_from_region
from identity.service_layer.resolve import ResolveContext, resolve_customer
from tests.unit.fakes.gateway_fakes import FakeContacts, FakeEvents, FakeHistory
from tests.unit.fakes.identity_fakes import REGION as ID_REGION
from tests.unit.fakes.identity_fakes import TENANT as ID_TENANT
from tests.unit.fakes.identity_fakes import FakeHistory as FakeIdentityHistory
from tests.unit.fakes.identity_fakes import FakeProfiles, phone

TENANT, CONTACT, CUSTOMER = "acme", "c-1", "cust-1"
PHONE = "+442071838750"
EMAIL = "dana@example.com"
CARD = "4111 1111 1111 1111"


class Identity:
    def __init__(self) -> None:
        self.crossings: list[Any] = []
        self.profile_reads = 0

    async def RecordCrossing(self, request: Any, **_: Any) -> Any:
        self.crossings.append(request)
        return SimpleNamespace()

    async def GetCustomer(self, request: Any, **_: Any) -> Any:
        self.profile_reads += 1
        return SimpleNamespace(customer=SimpleNamespace(attributes={"name": "Dana Customer"}))


class Violations:
    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        self.published.append(event)


class NoViolations:
    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        raise AssertionError("redacting is no violation")


def _event(payload: Any) -> events_pb2.Event:
    return new_event(payload, tenant_id=TENANT, region="eu", source="test", contact_id=CONTACT)


def _history() -> FakeEvents:
    events = FakeEvents()
    created = events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_SMS, customer_id=CUSTOMER)
    phone = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=PHONE)
    getattr(created, "from").CopyFrom(phone)
    events.published += [
        _event(created),
        _event(
            events_pb2.MessageReceived(
                message_id="m-1",
                customer_id=CUSTOMER,
                text=f"call me on {PHONE} or write to {EMAIL}",
                subject=f"card {CARD}",
                sender_name="Dana Customer",
            )
        ),
        _event(events_pb2.MessageSent(message_id="m-2", text=f"we will write to {EMAIL}", sender="agent:x")),
        _event(events_pb2.ContactOverflowed(rule="sun", to_region="us", to_queue="support")),
    ]
    return events


def _home(rules: RuleSet | None, identity: Identity) -> HandedOverContacts:
    events = _history()
    policy = (
        None
        if rules is None
        else PolicyCheck(region="eu", source="gateway", rules=lambda: rules, events=NoViolations())
    )
    return HandedOverContacts(
        region="eu",
        history=FakeHistory(events),
        events=events,
        identity=identity,
        contacts=FakeContacts(),
        read_pause=0.0,
        policy=policy,
    )


def _texts(events: list[events_pb2.Event]) -> str:
    return " ".join(str(e) for e in events)


def test_redacted_copy_hides_texts_and_names_and_leaves_the_original() -> None:
    original = _history().published[1]
    shown = redacted_for_crossing(original)
    assert shown.message_received.text == "call me on [PHONE] or write to [EMAIL]"
    assert shown.message_received.subject == "card [CARD_NUMBER]"
    assert shown.message_received.sender_name == ""
    assert EMAIL in original.message_received.text and original.message_received.sender_name


def test_every_payload_is_walked_ids_kept_identifiers_and_names_dropped() -> None:
    segment = _event(events_pb2.TranscriptSegment(stream_id="MZ4471203948", text=f"my card is {CARD}"))
    assert redacted_for_crossing(segment).transcript_segment.text == "my card is [CARD_NUMBER]"
    assert redacted_for_crossing(segment).transcript_segment.stream_id == "MZ4471203948"
    status = _event(events_pb2.MessageStatusChanged(message_id="m-2", reason=f"{PHONE} unreachable"))
    assert redacted_for_crossing(status).message_status_changed.reason == "[PHONE] unreachable"
    original = _history().published[0]
    created = redacted_for_crossing(original)
    assert not created.contact_created.HasField("from") and created.contact_created.customer_id == CUSTOMER
    assert created.contact_id == CONTACT and created.event_id == original.event_id


async def test_events_leave_redacted_under_a_redaction_rule() -> None:
    identity = Identity()
    home = _home(RuleSet((RedactionRule("eu-redact", frozenset({"eu"})),)), identity)
    view = await home.view(TENANT, CONTACT, "us", "carol")
    crossing = _texts(view.events)
    for personal in (PHONE, EMAIL, "4111", "Dana"):
        assert personal not in crossing
    texts = [e.message_received.text or e.message_sent.text for e in view.events]
    assert texts == ["", "call me on [PHONE] or write to [EMAIL]", "we will write to [EMAIL]"]
    assert view.display_name == ANONYMOUS_NAME and identity.profile_reads == 0
    # The read is still on the customer's record, marked as redacted.
    assert [c.reason for c in identity.crossings] == [f"view of handed-over contact {CONTACT} (redacted)"]


async def test_events_cross_unredacted_without_the_rule_or_with_it_elsewhere() -> None:
    for rules in (None, RuleSet(), RuleSet((RedactionRule("us-redact", frozenset({"us"})),))):
        identity = Identity()
        view = await _home(rules, identity).view(TENANT, CONTACT, "us", "carol")
        assert EMAIL in _texts(view.events) and view.display_name == "Dana Customer"


async def _profile_answer(rules: RuleSet) -> tuple[Any, FakeIdentityHistory, Violations]:
    """eu (here: the fakes' region) answers us, which residency lets have the profile."""
    store, history, violations = FakeProfiles(), FakeIdentityHistory(), Violations()
    ctx = ResolveContext(store=store, tenant_id=ID_TENANT, scope=ID_TENANT, region=ID_REGION)  # type: ignore[arg-type]
    await resolve_customer(ctx, [phone("+447700900001")])
    policy = PolicyCheck(region=ID_REGION, source="identity", rules=lambda: rules, events=violations)
    refusal = profile_refusal_by(policy, tenant_id=ID_TENANT, brand_id="", to_region="us", actor="a")
    answer = await resolve_from_region(
        store,
        history,
        IndexKeys(b"k" * 32),
        tenant_id=ID_TENANT,
        scope=ID_TENANT,
        region=ID_REGION,
        identifiers=[phone("+447700900001")],
        requesting_region="us",
        actor="identity@us",
        personal_data_regions=["us"],
        pseudonymous_regions=[],
        profile_refusal=refusal,
    )
    return answer, history, violations


async def test_a_redaction_rule_keeps_a_profile_home_and_publishes_the_refusal() -> None:
    rules = RuleSet((RedactionRule("home-redact", frozenset({ID_REGION})),), "v7")
    answer, history, violations = await _profile_answer(rules)
    assert answer.customer is None and answer.reference.startswith("psr_")
    assert answer.kind is CrossingKind.PSEUDONYMOUS
    ((_, crossing),) = history.crossings
    assert "home-redact" in history.audit_of(crossing.customer_id)[0].reason
    (violation,) = violations.published
    refused = violation.policy_violation
    assert (refused.rule, refused.action, refused.rule_set_version) == ("home-redact", "leave_region", "v7")
    assert refused.customer_id == crossing.customer_id


async def test_without_the_rule_the_profile_crosses_as_residency_allows() -> None:
    elsewhere = RuleSet((RedactionRule("us-redact", frozenset({"us"})),))
    for rules in (RuleSet(), elsewhere):
        answer, _, violations = await _profile_answer(rules)
        assert answer.customer is not None and answer.kind is CrossingKind.PERSONAL
        assert violations.published == []
