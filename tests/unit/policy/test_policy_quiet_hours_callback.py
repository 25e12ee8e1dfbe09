"""A call back placed in the quiet hours of a `quietHours` rule is refused, naming the rule (the
request's status says so and a PolicyViolation is published); outside them it is placed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeOutbox,
    FakeProvider,
    channel_endpoint,
    directory_of,
)

from ccmesh.envelope import new_event
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import QuietHoursRule, RuleSet
from contactcenter.events.v1 import events_pb2
from gateway.domain.contact import ChannelLeg, ContactRecord
from gateway.service_layer.outbound import OutboundDelivery


@dataclass
class Violations:
    published: list[events_pb2.Event] = field(default_factory=list)

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        self.published.append(event)


def _quiet_now() -> QuietHoursRule:
    """A window that holds the present minute whatever the time of the test run."""
    hour = datetime.now(UTC).hour
    return QuietHoursRule("quiet-now", start=time(hour), end=time((hour + 2) % 24), default_time_zone="UTC")


def _open_now() -> QuietHoursRule:
    hour = datetime.now(UTC).hour
    return QuietHoursRule("quiet-later", start=time((hour + 3) % 24), end=time((hour + 5) % 24))


async def _call_back(rule: QuietHoursRule) -> tuple[FakeProvider, FakeEvents, Violations]:
    contacts, events, twilio, violations = FakeContacts(), FakeEvents(), FakeProvider("twilio"), Violations()
    record = ContactRecord(
        contact_id="c1", tenant_id="acme", brand_id="", customer_id="cust-1", entry_point="acme-sms"
    ).with_leg(ChannelLeg(channel="sms", endpoint="acme-sms", address="+447700900001"))
    await contacts.change_contact("acme", "c1", lambda _: record)
    delivery = OutboundDelivery(
        region=REGION,
        store=contacts,
        outbox=FakeOutbox(),
        endpoints=directory_of(
            channel_endpoint("acme-sms", queue="support"),
            channel_endpoint("acme-voice", "voice", queue="support"),
        ),
        events=events,
        adapters={"twilio": twilio},
        twilio=twilio,
        public_base_url=lambda: "https://cc.example.com",
        max_attempts=3,
        retry_seconds=1.0,
        policy=PolicyCheck(
            region=REGION, source="gateway", rules=lambda: RuleSet((rule,)), events=violations
        ),
    )
    await delivery.handle(
        new_event(
            events_pb2.CallbackRequested(queue="support", channel="voice", endpoint="acme-voice"),
            tenant_id="acme",
            region=REGION,
            source="gateway",
            contact_id="c1",
            event_id="cb-1",
        )
    )
    return twilio, events, violations


async def test_a_call_back_in_quiet_hours_is_refused_naming_the_rule() -> None:
    twilio, events, violations = await _call_back(_quiet_now())
    assert twilio.calls == []
    (status,) = events.of_kind("message_status_changed")
    assert status.message_status_changed.status == "failed"
    assert "refused by compliance rule 'quiet-now'" in status.message_status_changed.reason
    (violation,) = violations.published
    assert (violation.policy_violation.rule, violation.policy_violation.action) == (
        "quiet-now",
        "outbound_contact",
    )
    assert violation.policy_violation.customer_id == "cust-1"


async def test_a_call_back_outside_quiet_hours_is_placed() -> None:
    twilio, _, violations = await _call_back(_open_now())
    assert len(twilio.calls) == 1
    assert violations.published == []
