"""Durable consumers with a batch handler: a fetched batch handled at once, each message settled
on its own (acked, retried with back-off, or dead-lettered), redelivered after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from _mesh import REGION, contact_event, eventually
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    NotYet,
    Outcome,
    PermanentError,
    TransientError,
    concurrently,
)
from contactcenter.events.v1 import events_pb2

EVENTS = naming.events_stream(REGION).name
DEAD_LETTERS = naming.dead_letter_stream(REGION).name

BatchHandler = Callable[[Sequence[events_pb2.Event]], Awaitable[Sequence[Outcome]]]


def contact_created(event_id: str) -> events_pb2.Event:
    return contact_event(
        event_id, f"c-{event_id}", contact_created=events_pb2.ContactCreated(entry_point="+15550100")
    )


@pytest.fixture
async def consume(js: JetStreamContext) -> AsyncIterator[Callable[..., Awaitable[DurableConsumer]]]:
    started: list[DurableConsumer] = []

    async def start(durable: str, batch_handler: BatchHandler, **settings: object) -> DurableConsumer:
        consumer: DurableConsumer[events_pb2.Event] = DurableConsumer(
            js,
            REGION,
            ConsumerSettings(
                durable=durable,
                filter_subject=f"ccevt.{REGION}.>",
                backoff_seconds=(0.05,),
                **settings,  # type: ignore[arg-type]
            ),
            batch_handler=batch_handler,
        )
        await consumer.start()
        started.append(consumer)
        return consumer

    try:
        yield start
    finally:
        for consumer in started:
            await consumer.stop(0.5)


async def publish(js: JetStreamContext, ids: Sequence[str]) -> None:
    await EventPublisher(js, REGION).publish_all([contact_created(event_id) for event_id in ids])


async def settled(js: JetStreamContext, durable: str) -> None:
    async def check() -> bool:
        info = await js.consumer_info(EVENTS, durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(check, what=f"{durable} settled")


async def dead_letters(js: JetStreamContext, durable: str) -> list[RawStreamMsg]:
    letters: list[RawStreamMsg] = []
    sequence = 1
    while True:
        try:
            letter = await js.get_msg(
                DEAD_LETTERS, seq=sequence, subject=naming.dead_letter_subject(REGION, durable), next=True
            )
        except NotFoundError:
            return letters
        letters.append(letter)
        sequence = int(letter.seq or 0) + 1


async def test_a_fetched_batch_reaches_the_handler_at_once_and_is_acked(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    ids = [f"evt-{i}" for i in range(10)]
    await publish(js, ids)
    batches: list[list[str]] = []

    async def handle(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        batches.append([event.event_id for event in events])
        return [None] * len(events)

    await consume("batched", handle, batch=32)
    await eventually(lambda: sum(map(len, batches)) == len(ids), what="every event handled")
    await settled(js, "batched")
    assert batches == [ids]
    info = await js.consumer_info(EVENTS, "batched")
    assert info.num_redelivered == 0
    assert info.delivered.stream_seq == len(ids)


async def test_one_bad_message_is_dead_lettered_while_the_rest_of_its_batch_is_acked(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    ids = [f"evt-{i}" for i in range(5)]
    await publish(js, ids)
    attempts: list[str] = []

    async def handle(event: events_pb2.Event) -> None:
        attempts.append(event.event_id)
        if event.event_id == "evt-2":
            raise PermanentError("tenant acme was deleted")
        if event.event_id == "evt-4" and attempts.count("evt-4") == 1:
            raise TransientError("provider busy")

    consumer = await consume("mixed", concurrently(handle), max_deliver=5)
    await eventually(lambda: attempts.count("evt-4") == 2, what="the transient failure retried")
    await settled(js, "mixed")
    letters = await dead_letters(js, "mixed")
    assert [events_pb2.Event.FromString(letter.data or b"").event_id for letter in letters] == ["evt-2"]
    assert (letters[0].headers or {})["Cc-Reason"] == "permanent failure: tenant acme was deleted"
    assert consumer.dead_lettered == 1
    # The good ones were handled once: acked in their batch, never redelivered.
    assert sorted(attempts) == ["evt-0", "evt-1", "evt-2", "evt-3", "evt-4", "evt-4"]


async def test_a_message_that_is_not_yet_applicable_is_asked_again_then_let_go_not_dead_lettered(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    ids = ["evt-early", "evt-never", "evt-plain"]
    await publish(js, ids)
    attempts: list[str] = []

    async def handle(event: events_pb2.Event) -> None:
        attempts.append(event.event_id)
        if event.event_id == "evt-early" and attempts.count("evt-early") < 3:
            raise NotYet("contact not in a queue yet")
        if event.event_id == "evt-never":
            raise NotYet("contact never joins a queue")

    consumer = await consume("not-yet", concurrently(handle), max_deliver=4)
    await eventually(lambda: attempts.count("evt-never") == 4, what="every attempt made")
    await settled(js, "not-yet")
    # Applied on its third delivery; the other given up after the fourth, as read, not as a failure.
    assert (attempts.count("evt-early"), attempts.count("evt-plain")) == (3, 1)
    assert await dead_letters(js, "not-yet") == []
    assert consumer.dead_lettered == 0


async def test_a_batch_handler_that_raises_fails_every_message_of_its_batch(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    ids = ["evt-a", "evt-b", "evt-c"]
    await publish(js, ids)
    seen: list[list[str]] = []

    async def broken(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        seen.append([event.event_id for event in events])
        raise RuntimeError("database is on fire")

    consumer = await consume("broken-batch", broken, max_deliver=2)
    await eventually(lambda: consumer.dead_lettered == len(ids), what="the whole batch dead-lettered")
    await settled(js, "broken-batch")
    letters = await dead_letters(js, "broken-batch")
    assert sorted(events_pb2.Event.FromString(letter.data or b"").event_id for letter in letters) == ids
    assert all("handler failed 2 times" in (letter.headers or {})["Cc-Reason"] for letter in letters)
    assert sorted(event_id for batch in seen for event_id in batch) == sorted(ids * 2)


async def test_a_batch_unacked_when_its_consumer_crashes_is_redelivered(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    ids = [f"evt-{i}" for i in range(4)]
    await publish(js, ids)
    in_hand: list[str] = []
    never = asyncio.Event()

    async def stuck(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        in_hand.extend(event.event_id for event in events)
        await never.wait()  # the process dies here, before any outcome
        return [None] * len(events)

    await consume("crashy", stuck, ack_wait_seconds=1.0)
    await eventually(lambda: in_hand == ids, what="the batch in hand")
    # The first instance hangs mid-batch (as a killed process would, nothing is acked); another
    # instance of the same durable gets the whole batch once the ack wait runs out.
    handled: list[str] = []

    async def handle(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        handled.extend(event.event_id for event in events)
        return [None] * len(events)

    try:
        await consume("crashy", handle, ack_wait_seconds=1.0)
        await eventually(lambda: sorted(handled) == ids, what="the batch redelivered", timeout=10.0)
    finally:
        never.set()


def test_a_consumer_needs_exactly_one_kind_of_handler(js: JetStreamContext) -> None:
    settings = ConsumerSettings(durable="none", filter_subject=f"ccevt.{REGION}.>")
    with pytest.raises(ValueError, match="either a handler or a batch_handler"):
        DurableConsumer(js, REGION, settings)

    async def handle(event: events_pb2.Event) -> None:
        return None

    with pytest.raises(ValueError, match="either a handler or a batch_handler"):
        DurableConsumer(js, REGION, settings, handle, batch_handler=concurrently(handle))


async def test_a_consumer_that_gathers_takes_a_trickle_in_few_batches(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    batches: list[list[str]] = []

    async def handle(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        batches.append([e.event_id for e in events])
        return [None] * len(events)

    await consume("gathering", handle, gather_seconds=1.5)
    ids = [f"g{n}" for n in range(8)]
    for event_id in ids:
        await publish(js, [event_id])
        await asyncio.sleep(0.05)
    await eventually(lambda: sum(map(len, batches)) == len(ids), what="every event handled")
    await settled(js, "gathering")
    # Eight events 50 ms apart: the first fetch takes what is there, the rest wait together.
    assert [e for batch in batches for e in batch] == ids
    assert len(batches) <= 3, batches
