"""A durable consumer's standing pulls (`ccmesh.pull_feed`) against a real nats-server: few pulls
while idle or busy, every event across a server restart and a consumer deleted and made again,
and what was pulled ahead handed back at once when the consumer stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _mesh import REGION, contact_event, eventually
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    StreamSettings,
    ensure_region_streams,
)
from ccmesh.pull_feed import EXPIRES_SECONDS
from ccmesh.testing.topologies import Topology
from contactcenter.events.v1 import events_pb2
from recovery._restart import WAIT_SECONDS, client, restart, write_when_back

__all__ = ["client"]

EVENTS = naming.events_stream(REGION).name


@pytest.fixture
async def js(client: NATS) -> JetStreamContext:
    context = client.jetstream()
    await ensure_region_streams(context, REGION, StreamSettings())
    return context


def created(n: int) -> events_pb2.Event:
    return contact_event(
        f"evt-{n}", f"c-{n}", contact_created=events_pb2.ContactCreated(entry_point="+15550100")
    )


class Seen:
    """A handler that records the contacts it was given, in order."""

    def __init__(self) -> None:
        self.contacts: list[str] = []
        self.entered = asyncio.Event()
        self.hold = asyncio.Event()
        self.hold.set()

    async def __call__(self, event: events_pb2.Event) -> None:
        self.entered.set()
        await self.hold.wait()
        self.contacts.append(event.contact_id)


@pytest.fixture
async def consumers(js: JetStreamContext) -> AsyncIterator[list[DurableConsumer[events_pb2.Event]]]:
    started: list[DurableConsumer[events_pb2.Event]] = []
    yield started
    for consumer in started:
        await consumer.stop(2.0)


async def start(
    js: JetStreamContext,
    started: list[DurableConsumer[events_pb2.Event]],
    handler: Seen,
    durable: str = "feed",
    batch: int = 32,
) -> DurableConsumer[events_pb2.Event]:
    consumer: DurableConsumer[events_pb2.Event] = DurableConsumer(
        js,
        REGION,
        ConsumerSettings(durable=durable, filter_subject=f"ccevt.{REGION}.>", batch=batch),
        handler,
    )
    await consumer.start()
    started.append(consumer)
    return consumer


def pulls(consumer: DurableConsumer[events_pb2.Event]) -> int:
    assert consumer._feed is not None
    return consumer._feed.pulls


async def test_an_idle_consumer_keeps_one_pull_standing(
    js: JetStreamContext, consumers: list[DurableConsumer[events_pb2.Event]]
) -> None:
    consumer = await start(js, consumers, Seen())
    await asyncio.sleep(2.5)
    # nats.py's fetch with a half-second poll would have asked ten times (each a pull, a status
    # reply and a second, waiting pull): a standing pull is asked once per its expiry (30 s).
    assert pulls(consumer) == 1
    info = await js.consumer_info(EVENTS, "feed")
    assert info.num_waiting == 1


async def test_a_burst_is_pulled_a_half_batch_at_a_time_in_order(
    js: JetStreamContext, consumers: list[DurableConsumer[events_pb2.Event]]
) -> None:
    seen = Seen()
    consumer = await start(js, consumers, seen, batch=32)
    publisher = EventPublisher(js, REGION)
    for n in range(300):
        await publisher.publish(created(n))
    await eventually(lambda: len(seen.contacts) == 300, timeout=WAIT_SECONDS, what="300 events handled")
    assert seen.contacts == [f"c-{n}" for n in range(300)]
    # One pull per message would be 300; topped up when half a batch is left: about 300 / 16.
    assert pulls(consumer) <= 300 // 16 + 3

    async def all_acknowledged() -> bool:
        # The last ack leaves after its handler returned, and the server settles acks apart from
        # the info request: asked until it is counted.
        return (await js.consumer_info(EVENTS, "feed")).num_ack_pending == 0

    await eventually(all_acknowledged, timeout=WAIT_SECONDS, what="every event acknowledged")


async def test_events_keep_coming_after_the_server_restarts(
    nats_server: Topology,
    client: NATS,
    js: JetStreamContext,
    consumers: list[DurableConsumer[events_pb2.Event]],
) -> None:
    seen = Seen()
    await start(js, consumers, seen)
    publisher = EventPublisher(js, REGION)
    await publisher.publish(created(1))
    await eventually(lambda: seen.contacts == ["c-1"], timeout=WAIT_SECONDS, what="the first event")

    await restart(nats_server, client)
    # The pull that stood before the restart is gone with the server's memory of it.
    await write_when_back(lambda: publisher.publish(created(2)))
    await eventually(
        lambda: seen.contacts == ["c-1", "c-2"], timeout=WAIT_SECONDS, what="the event after the restart"
    )


async def test_events_keep_coming_after_the_consumer_is_deleted_and_made_again(
    js: JetStreamContext, consumers: list[DurableConsumer[events_pb2.Event]]
) -> None:
    seen = Seen()
    consumer = await start(js, consumers, seen)
    config = (await js.consumer_info(EVENTS, "feed")).config
    await js.delete_consumer(EVENTS, "feed")  # its standing pull is answered 409
    await asyncio.sleep(0.5)
    await js.add_consumer(EVENTS, config=config)
    await EventPublisher(js, REGION).publish(created(3))
    await eventually(
        lambda: seen.contacts == ["c-3"], timeout=WAIT_SECONDS, what="the event after the refusal"
    )
    assert pulls(consumer) >= 2


async def test_what_was_pulled_ahead_goes_back_at_once_when_the_consumer_stops(
    js: JetStreamContext, consumers: list[DurableConsumer[events_pb2.Event]]
) -> None:
    first = Seen()
    first.hold.clear()  # the first event stays in the handler; the next ones wait in hand
    stopping = await start(js, consumers, first, batch=8)
    publisher = EventPublisher(js, REGION)
    await publisher.publish(created(0))
    await asyncio.wait_for(first.entered.wait(), WAIT_SECONDS)
    for n in range(1, 5):
        await publisher.publish(created(n))

    async def all_delivered() -> bool:
        return (await js.consumer_info(EVENTS, "feed")).num_ack_pending == 5

    await eventually(all_delivered, timeout=WAIT_SECONDS, what="the next four pulled ahead")
    stop = asyncio.create_task(stopping.stop(5.0))
    await asyncio.sleep(0.3)  # the feed is closed: what it held went back
    first.hold.set()
    await stop
    consumers.remove(stopping)
    assert first.contacts == ["c-0"]

    second = Seen()
    await start(js, consumers, second)
    # Handed back, the four come once the first feed's last pull has expired (10 s), long before
    # the ack wait (30 s) would have redelivered them.
    await eventually(
        lambda: second.contacts == [f"c-{n}" for n in range(1, 5)],
        timeout=EXPIRES_SECONDS + 5.0,
        what="the four handled by the next consumer",
    )
