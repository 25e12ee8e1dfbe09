"""A handed-over contact's live events on a real nats-server: the home region's gateways relay
them to the contact's crossing subject, redacted while a `redaction` rule governs the region, as
they are without one; two relaying instances republish each event once, and the relay ends with
the contact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from _platform import eventually

from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import RedactionRule, RuleSet
from contactcenter.events.v1 import events_pb2
from gateway.adapters.contact_events import follow_handed_over
from gateway.adapters.crossing_relay import CrossingRelays
from gateway.service_layer.handed_over import HandedOverContacts

pytestmark = pytest.mark.timeout(60)

TENANT, CONTACT = "acme", "c-relay"
EMAIL, PHONE = "dana@example.com", "+442071838750"


def until(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return check()

    return probe


def _event(payload: Any, event_id: str) -> events_pb2.Event:
    return new_event(
        payload, tenant_id=TENANT, region="eu", source="test", contact_id=CONTACT, event_id=event_id
    )


class NoEvents:
    async def publish(self, event: Any, timeout: float = 5.0) -> None:
        raise AssertionError("relaying publishes no stream events")


def _leaving_of(rules: list[RuleSet]) -> Any:
    """The home use case's per-event decision, with the rules as the test sets them."""
    home = HandedOverContacts(
        region="eu",
        history=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
        identity=None,  # type: ignore[arg-type]
        contacts=None,  # type: ignore[arg-type]
        policy=PolicyCheck(region="eu", source="gateway", rules=lambda: rules[0], events=NoEvents()),
    )
    return home.leaving


async def test_live_events_cross_redacted_once_each_and_the_relay_ends_with_the_contact(
    nats_url: str,
) -> None:
    home_a, home_b, remote = [await nats.connect(nats_url) for _ in range(3)]
    rules = [RuleSet((RedactionRule("eu-redact", frozenset({"eu"})),))]
    leaving = _leaving_of(rules)
    relays = [CrossingRelays(home_a, "eu"), CrossingRelays(home_b, "eu")]
    received: list[events_pb2.Event] = []

    async def on_event(event: events_pb2.Event) -> None:
        received.append(event)

    try:
        await follow_handed_over(remote, "eu", TENANT, CONTACT, on_event)
        for relay in relays:
            await relay.relay(TENANT, CONTACT, leaving)
            await relay.relay(TENANT, CONTACT, leaving)  # a second view: still one relay
        await remote.flush()
        await home_a.flush()
        await home_b.flush()

        text = f"write to {EMAIL} or call {PHONE}"
        subject = naming.event_subject("eu", TENANT, "message_received", CONTACT)
        for n in range(4):
            event = _event(
                events_pb2.MessageReceived(message_id=f"m{n}", text=text, sender_name="Dana"), f"e{n}"
            )
            await home_a.publish(subject, event.SerializeToString())
        await eventually(until(lambda: len(received) >= 4))
        assert sorted(e.message_received.message_id for e in received) == ["m0", "m1", "m2", "m3"]
        assert {e.message_received.text for e in received} == {"write to [EMAIL] or call [PHONE]"}
        assert {e.message_received.sender_name for e in received} == {""}

        # The rule is withdrawn: what follows crosses as it is.
        rules[0] = RuleSet()
        plain = _event(events_pb2.MessageReceived(message_id="m9", text=text), "e9")
        await home_b.publish(subject, plain.SerializeToString())
        await eventually(until(lambda: any(e.message_received.message_id == "m9" for e in received)))
        assert received[-1].message_received.text == text

        closed = _event(events_pb2.ContactClosed(outcome="resolved"), "closed")
        await home_a.publish(
            naming.event_subject("eu", TENANT, "contact_closed", CONTACT), closed.SerializeToString()
        )
        await eventually(until(lambda: all(r.relaying() == 0 for r in relays)))
        await eventually(until(lambda: received[-1].WhichOneof("payload") == "contact_closed"))
        for client in (home_a, home_b, remote):
            await client.flush()
        assert [e.WhichOneof("payload") for e in received].count("contact_closed") == 1
        assert len(received) == 6  # nothing twice
    finally:
        for relay in relays:
            await relay.close()
        for client in (home_a, home_b, remote):
            await client.drain()
