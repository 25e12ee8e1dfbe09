"""`VoiceBridge` over fakes: a caller put through to an agent and transferred goes back on hold in
the new queue (with the wait URL the call was answered with) and is put through to the next agent;
a transfer of a caller still waiting changes nothing on the line."""

from __future__ import annotations

import xml.etree.ElementTree as ET

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
WAIT_URL = "https://cc.example/v1/twilio/acme-voice/voice/wait"


def bridge_of(calls: FakeVoiceCalls, twilio: FakeProvider) -> VoiceBridge:
    return VoiceBridge(
        region=REGION,
        store=FakeContacts(),  # type: ignore[arg-type]
        calls=calls,  # type: ignore[arg-type]
        outbox=FakeOutbox(),  # type: ignore[arg-type]
        endpoints=directory_of(VOICE),
        events=FakeEvents(),  # type: ignore[arg-type]
        twilio=twilio,
        max_attempts=3,
        retry_seconds=1.0,
    )


def accepted(agent_id: str, reservation: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactAccepted(agent_id=agent_id, queue="support", reservation_id=reservation),
        tenant_id="acme",
        region=REGION,
        source="routing",
        contact_id="c1",
        event_id=f"c1.accepted.{reservation}",
    )


def transferred(to_queue: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactTransferred(from_queue="support", to_queue=to_queue, reason="invoice"),
        tenant_id="acme",
        region=REGION,
        source="routing",
        contact_id="c1",
        event_id=f"c1.transferred.{to_queue}",
    )


async def test_a_transferred_caller_waits_in_the_new_queue_then_reaches_the_next_agent() -> None:
    calls, twilio = FakeVoiceCalls(), FakeProvider("twilio")
    bridge = bridge_of(calls, twilio)
    await bridge.call_answered(VOICE, call_sid="CA1", contact_id="c1", queued=True, wait_url=WAIT_URL)
    await bridge.handle(accepted("dave", "r1"))
    await bridge.handle(transferred("billing"))
    await bridge.handle(transferred("billing"))  # redelivered: redirected once
    await bridge.handle(accepted("erin", "r2"))
    assert [call_sid for _, call_sid, _ in twilio.redirects] == ["CA1", "CA1", "CA1"]
    hold = ET.fromstring(twilio.redirects[1][2])
    assert [(child.tag, child.text, child.get("waitUrl")) for child in hold] == [
        ("Say", "Please hold while we transfer your call.", None),
        ("Enqueue", "billing", WAIT_URL),
    ]
    assert "<Client>erin</Client>" in twilio.redirects[2][2]
    record = await calls.get("acme", "CA1")
    assert record is not None and record.accepted_by == "erin"


async def test_a_transfer_while_the_caller_still_waits_leaves_the_line_alone() -> None:
    calls, twilio = FakeVoiceCalls(), FakeProvider("twilio")
    bridge = bridge_of(calls, twilio)
    await bridge.call_answered(VOICE, call_sid="CA1", contact_id="c1", queued=True, wait_url=WAIT_URL)
    await bridge.handle(transferred("billing"))
    assert twilio.redirects == []
