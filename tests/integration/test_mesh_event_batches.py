"""Several events sent at once (`EventPublisher.send`): stored in their order, acknowledged
together, de-duplicated by their ids like single publishes, failures raised where awaited."""

from __future__ import annotations

import pytest
from _mesh import REGION
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext
from nats.js.errors import NoStreamResponseError

from ccmesh import naming
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

EVENTS = naming.events_stream(REGION).name


def event(event_id: str, contact_id: str, kind: str) -> events_pb2.Event:
    payload = (
        {"contact_created": events_pb2.ContactCreated(entry_point="bench")}
        if kind == "contact_created"
        else {"message_received": events_pb2.MessageReceived(message_id=event_id, text=event_id)}
    )
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id=contact_id,
        source="tests",
        **payload,  # type: ignore[arg-type]
    )


@pytest.fixture
async def js(nc: NATS) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_region_streams(context, REGION, StreamSettings())
    return context


def lot(count: int) -> list[events_pb2.Event]:
    # Two subjects per contact, interleaved across contacts: the order must hold across subjects.
    return [
        event(f"e-{n}", f"c-{n // 2}", "contact_created" if n % 2 == 0 else "message_received")
        for n in range(count)
    ]


async def test_a_lot_is_stored_in_the_order_given_and_each_event_acknowledged(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    events = lot(40)
    acknowledged = await publisher.send(events)
    published = await acknowledged
    assert [p.duplicate for p in published] == [False] * 40
    sequences = [p.sequence for p in published]
    assert sequences == sorted(sequences) and len(set(sequences)) == 40
    for sequence, sent in zip(sequences, events, strict=True):
        stored = await js.get_msg(EVENTS, sequence)
        assert events_pb2.Event.FromString(stored.data or b"").event_id == sent.event_id


async def test_a_lot_sent_again_is_stored_once(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    first = await publisher.publish_all(lot(6))
    again = await publisher.publish_all(lot(6))
    assert all(p.duplicate for p in again)
    assert [p.sequence for p in again] == [p.sequence for p in first]
    assert (await js.stream_info(EVENTS)).state.messages == 6


async def test_an_event_without_id_is_refused_before_anything_of_the_lot_is_sent(
    js: JetStreamContext,
) -> None:
    publisher = EventPublisher(js, REGION)
    with pytest.raises(ValueError, match="event_id"):
        await publisher.send([*lot(2), event("", "c-1", "contact_created")])
    assert (await js.stream_info(EVENTS)).state.messages == 0


async def test_a_lot_no_stream_takes_fails_where_its_acknowledgements_are_awaited(
    js: JetStreamContext,
) -> None:
    # No stream listens on this region's subjects: nothing acknowledges.
    publisher = EventPublisher(js, "nowhere")
    acknowledged = await publisher.send(lot(2), timeout=2.0)
    with pytest.raises(NoStreamResponseError):
        await acknowledged
