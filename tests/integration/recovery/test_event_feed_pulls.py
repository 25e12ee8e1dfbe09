"""The integration service's event feeds (webhook deliveries, analytics) on standing pulls, against
a real nats-server: one pull while idle, a reopen at the ack floor that brings back what was not
acknowledged in stream order and nothing twice, and reads that go on after a server restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _mesh import REGION, contact_event
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.testing.topologies import Topology
from contactcenter.events.v1 import events_pb2
from integration.adapters.event_feed import EventFeed, contact_of
from recovery._restart import WAIT_SECONDS, client, restart, write_when_back

__all__ = ["client"]

EVENTS = naming.events_stream(REGION).name
DURABLE = "deliver-acme-crm"


@pytest.fixture
async def js(client: NATS) -> JetStreamContext:
    context = client.jetstream()
    await ensure_region_streams(context, REGION, StreamSettings())
    return context


@pytest.fixture
async def feed(js: JetStreamContext) -> AsyncIterator[EventFeed]:
    opened = EventFeed(js, REGION, DURABLE, [f"ccevt.{REGION}.>"], start_time=None, batch=8)
    await opened.open()
    yield opened
    await opened.close()


def created(n: int) -> events_pb2.Event:
    return contact_event(
        f"evt-{n}", f"c-{n}", contact_created=events_pb2.ContactCreated(entry_point="+15550100")
    )


async def read(feed: EventFeed, count: int) -> list[str]:
    """The contacts of the next `count` messages (fewer if they do not come)."""
    contacts: list[str] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while len(contacts) < count:
            contacts += [contact_of(m) for m in await feed.fetch(count - len(contacts), timeout=0.5)]
    return contacts


async def test_an_idle_feed_keeps_one_pull_standing(js: JetStreamContext, feed: EventFeed) -> None:
    for _ in range(5):
        assert await feed.fetch(8, timeout=0.5) == []
    # A fetch per read would have asked five times, each a pull, a status and a waiting pull.
    assert feed._pulls is not None and feed._pulls.pulls == 1
    assert (await js.consumer_info(EVENTS, DURABLE)).num_waiting == 1


async def test_a_reopened_feed_starts_again_at_the_ack_floor_and_brings_nothing_twice(
    js: JetStreamContext, feed: EventFeed
) -> None:
    publisher = EventPublisher(js, REGION)
    for n in range(6):
        await publisher.publish(created(n))
    first = await feed.fetch(3, timeout=WAIT_SECONDS)
    assert [contact_of(m) for m in first] == ["c-0", "c-1", "c-2"]
    await first[0].ack_sync()  # the floor is read from the server: the ack must be there first

    # As the delivery lanes do after a failed acknowledgement: open again, without a close.
    await feed.open()
    assert await read(feed, 5) == ["c-1", "c-2", "c-3", "c-4", "c-5"]
    # The pulls of the first opening ended with it: nothing arrives a second time.
    assert await feed.fetch(8, timeout=1.0) == []


async def test_reads_go_on_after_the_server_restarts(
    nats_server: Topology, client: NATS, js: JetStreamContext, feed: EventFeed
) -> None:
    publisher = EventPublisher(js, REGION)
    await publisher.publish(created(1))
    taken = await feed.fetch(8, timeout=WAIT_SECONDS)
    assert [contact_of(m) for m in taken] == ["c-1"]
    await taken[0].ack_sync()

    await restart(nats_server, client)
    # The pull that stood before the restart is gone with the server's memory of it.
    await write_when_back(lambda: publisher.publish(created(2)))
    assert await read(feed, 1) == ["c-2"]
