"""`VoiceBridge` over fakes, lightly: a queued caller accepted by an agent is put through once
from the tenant's own endpoint; a caller who hangs up while waiting abandons the contact."""

from __future__ import annotations

from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeOutbox,
    FakeProvider,
    FakeVoiceCalls,
    channel_endpoint,
    directory_of,
)

from ccmesh.envelope import new_event
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.voice_bridge import VoiceBridge

VOICE = channel_endpoint("acme-voice", "voice", queue="support")
GLOBEX_VOICE = channel_endpoint("globex-voice", "voice", tenant="globex", queue="support")


class World:
    def __init__(self) -> None:
        self.events, self.calls, self.twilio = FakeEvents(), FakeVoiceCalls(), FakeProvider("twilio")
        self.bridge = VoiceBridge(
            region=REGION,
            store=FakeContacts(),  # type: ignore[arg-type]
            calls=self.calls,  # type: ignore[arg-type]
            outbox=FakeOutbox(),  # type: ignore[arg-type]
            endpoints=directory_of(VOICE, GLOBEX_VOICE),
            events=self.events,  # type: ignore[arg-type]
            twilio=self.twilio,
            max_attempts=3,
            retry_seconds=1.0,
        )


def accepted(contact_id: str = "c1") -> events_pb2.Event:
    return new_event(
        events_pb2.ContactAccepted(agent_id="agent-1", queue="support"),
        tenant_id="acme",
        region=REGION,
        source="routing",
        contact_id=contact_id,
        event_id=f"{contact_id}.accepted",
    )


async def test_an_accepted_queued_caller_is_put_through_to_the_agent_once() -> None:
    world = World()
    await world.bridge.call_answered(VOICE, call_sid="CA1", contact_id="c1", queued=True)
    await world.bridge.handle(accepted())
    await world.bridge.handle(accepted())  # redelivered
    ((endpoint, call_sid, twiml),) = world.twilio.redirects
    assert (endpoint.metadata.name, call_sid) == ("acme-voice", "CA1")
    assert "agent-1" in twiml


async def test_a_call_recorded_under_another_tenants_endpoint_is_never_redirected_with_it() -> None:
    world = World()
    # A record naming globex's endpoint under acme (it cannot happen through the webhooks):
    # the tenant-checked lookup refuses it, so globex's Twilio account is never used for acme.
    await world.calls.answered("acme", call_sid="CA2", contact_id="c2", endpoint="globex-voice", queued=True)
    await world.bridge.handle(accepted("c2"))
    assert world.twilio.redirects == []


async def test_a_caller_hanging_up_while_waiting_abandons_the_contact() -> None:
    world = World()
    await world.bridge.call_answered(VOICE, call_sid="CA1", contact_id="c1", queued=True)
    await world.bridge.call_status(VOICE, call_sid="CA1", status="completed")
    (closed,) = world.events.of_kind("contact_closed")
    assert closed.contact_id == "c1" and closed.contact_closed.closed_by == "customer"
