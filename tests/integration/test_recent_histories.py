"""Contact histories kept per process (`ccmesh.recent_histories`), on a real nats-server: a read
again asks the stream only for what was stored since and returns the same as a fresh read;
histories are per tenant, bounded in size, and read whole again once their time is up (so what
the retention removed is gone)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _mesh import REGION, eventually
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.contact_history import contact_history
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.recent_histories import RecentHistories
from ccmesh.retention import Limits, RetentionPolicy
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(60)

STREAM = naming.events_stream(REGION).name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Requests:
    """The direct-get requests the stream receives (their `seq`: where each read starts)."""

    def __init__(self) -> None:
        self.starts: list[int] = []

    async def on_request(self, message: Msg) -> None:
        self.starts.append(int(json.loads(message.data)["seq"]))

    async def settled(self, nc: NATS, count: int) -> list[int]:
        await nc.flush()
        await eventually(lambda: _true(len(self.starts) >= count))
        return self.starts


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
async def requests(nc: NATS) -> Requests:
    seen = Requests()
    await nc.subscribe(f"$JS.API.DIRECT.GET.{STREAM}", cb=seen.on_request)
    return seen


def event(tenant: str, contact: str, text: str) -> events_pb2.Event:
    return new_event(
        events_pb2.MessageReceived(text=text),
        tenant_id=tenant,
        region=REGION,
        source="tests",
        contact_id=contact,
    )


def ids(events: list[Any]) -> list[str]:
    return [e.event_id for e in events]


async def test_a_read_again_asks_only_for_what_was_stored_since(
    nc: NATS, js: JetStreamContext, requests: Requests
) -> None:
    publisher = EventPublisher(js, REGION)
    first = [event("acme", "c-1", f"m{n}") for n in range(3)]
    for each in first:
        await publisher.publish(each)
    histories = RecentHistories(js, REGION, clock=Clock())

    assert ids(await histories.of_contact("acme", "c-1")) == ids(first)
    assert ids(await histories.of_contact("acme", "c-1")) == ids(first)
    later = event("acme", "c-1", "m3")
    await publisher.publish(event("acme", "c-2", "another contact"))
    stored = await publisher.publish(later)
    # The same event published again (after the duplicate window) is still one event.
    await js.publish(
        naming.event_subject(REGION, "acme", "message_received", "c-1"),
        first[0].SerializeToString(),
        headers={"Nats-Msg-Id": "again"},
    )

    again = await histories.of_contact("acme", "c-1")

    assert ids(again) == ids([*first, later]) == ids(await contact_history(js, REGION, "acme", "c-1"))
    # Whole first, then from after the last event read (twice: nothing new, then the new ones).
    starts = await requests.settled(nc, 4)
    assert starts[:3] == [1, 4, 4]
    assert stored.sequence == 5
    assert len(histories) == 1


async def test_histories_are_kept_per_tenant(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    mine, theirs = event("acme", "c-1", "mine"), event("globex", "c-1", "theirs")
    await publisher.publish(mine)
    await publisher.publish(theirs)
    histories = RecentHistories(js, REGION, clock=Clock())

    assert ids(await histories.of_contact("acme", "c-1")) == [mine.event_id]
    assert ids(await histories.of_contact("globex", "c-1")) == [theirs.event_id]
    assert ids(await histories.of_contact("acme", "c-1")) == [mine.event_id]


async def test_kept_events_stay_within_the_budget_least_recently_read_first_out(
    nc: NATS, js: JetStreamContext, requests: Requests
) -> None:
    publisher = EventPublisher(js, REGION)
    for contact in ("c-1", "c-2", "c-3"):
        for n in range(4):
            await publisher.publish(event("acme", contact, f"{contact} {n}"))
    histories = RecentHistories(js, REGION, max_events=8, clock=Clock())

    for contact in ("c-1", "c-2", "c-3"):
        assert len(await histories.of_contact("acme", contact)) == 4
        assert histories.held_events <= 8

    assert len(histories) == 2  # c-1 went
    assert len(await histories.of_contact("acme", "c-1")) == 4  # read whole again
    assert (await requests.settled(nc, 4))[3] == 1
    # A history larger than the whole budget is read but not kept.
    for n in range(9):
        await publisher.publish(event("acme", "c-big", f"big {n}"))
    assert len(await histories.of_contact("acme", "c-big")) == 9
    assert histories.held_events <= 8


async def test_a_history_is_read_whole_again_once_its_time_is_up_and_expired_events_are_gone(
    nc: NATS,
) -> None:
    js = nc.jetstream()
    await ensure_region_streams(
        js, REGION, StreamSettings(), RetentionPolicy({"events": Limits(max_age_seconds=1)})
    )
    publisher = EventPublisher(js, REGION)
    old = event("acme", "c-1", "old")
    await publisher.publish(old)
    clock = Clock()
    histories = RecentHistories(js, REGION, ttl_seconds=30.0, clock=clock)
    assert ids(await histories.of_contact("acme", "c-1")) == [old.event_id]

    async def expired() -> bool:
        return (await js.stream_info(STREAM)).state.messages == 0

    await eventually(expired)
    new = event("acme", "c-1", "new")
    await publisher.publish(new)
    clock.now += 30.0

    assert ids(await histories.of_contact("acme", "c-1")) == [new.event_id]


async def test_bad_ids_are_refused_and_keep_nothing(js: JetStreamContext) -> None:
    histories = RecentHistories(js, REGION, clock=Clock())
    with pytest.raises(ValueError, match="contact_id"):
        await histories.of_contact("acme", "*")
    assert len(histories) == 0
