"""`ccmesh.consumer_progress.caught_up` on a real server: a read-your-writes barrier that holds
while a consumer has not settled the last message of a subject, lets go once it has (by any
instance), does not wait for subjects with nothing on them or consumers that do not exist, and
gives up at its time limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _mesh import REGION, contact_event
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.consumer_progress import caught_up
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
)
from contactcenter.events.v1 import events_pb2

STREAM = naming.events_stream(REGION).name
DURABLE = "progress-replies"


def reply(event_id: str, contact_id: str) -> events_pb2.Event:
    return contact_event(
        event_id, contact_id, message_sent=events_pb2.MessageSent(message_id=event_id, text="On its way.")
    )


@pytest.fixture
async def gated(js: JetStreamContext) -> AsyncIterator[tuple[asyncio.Event, list[str]]]:
    """A consumer of replies that handles nothing until its gate opens."""
    gate, handled = asyncio.Event(), []

    async def handle(event: events_pb2.Event) -> None:
        await gate.wait()
        handled.append(event.event_id)

    consumer: DurableConsumer[events_pb2.Event] = DurableConsumer(
        js,
        REGION,
        ConsumerSettings(
            durable=DURABLE, filter_subject=naming.event_subject(REGION, "*", "message_sent", "*")
        ),
        handle,
    )
    await consumer.start()
    try:
        yield gate, handled
    finally:
        gate.set()
        await consumer.stop(1.0)


def followed(contact_id: str, durable: str = DURABLE) -> list[tuple[str, str]]:
    return [(naming.event_subject(REGION, "acme", "message_sent", contact_id), durable)]


async def test_the_barrier_holds_until_the_consumer_settles_the_contacts_last_message(
    js: JetStreamContext, gated: tuple[asyncio.Event, list[str]]
) -> None:
    gate, handled = gated
    await EventPublisher(js, REGION).publish_all(
        [reply("r-1", "c-1"), reply("r-2", "c-2"), reply("r-3", "c-1")]
    )
    assert not await caught_up(js, STREAM, followed("c-1"), within_seconds=0.3)
    assert handled == []

    waiting = asyncio.create_task(caught_up(js, STREAM, followed("c-1"), within_seconds=10))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    gate.set()
    assert await waiting
    # Let go once c-1's last reply (r-3) was settled, and everything before it with it.
    assert {"r-1", "r-2", "r-3"} <= set(handled)


async def test_nothing_to_wait_for_is_no_wait(
    js: JetStreamContext, gated: tuple[asyncio.Event, list[str]]
) -> None:
    await EventPublisher(js, REGION).publish_all([reply("r-9", "c-9")])
    # No time to wait at all, and nothing to wait for: a contact with no reply on the stream, a
    # consumer that does not exist. The same call for c-9's reply, unsettled, is False.
    assert await caught_up(js, STREAM, followed("c-none"), within_seconds=0)
    assert await caught_up(js, STREAM, followed("c-9", durable="no-such-consumer"), within_seconds=0)
    assert await caught_up(js, STREAM, [], within_seconds=0)
    assert not await caught_up(js, STREAM, followed("c-9"), within_seconds=0)
