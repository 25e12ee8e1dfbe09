"""Contact events on JetStream: publish once (dedup), consume at least once, dead-letter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from _mesh import REGION, contact_event, eventually
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.events import (
    MAX_DELIVER_WHILE_NATS_AWAY,
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    PermanentError,
    StreamSettings,
    ensure_region_streams,
)
from ccmesh.retention import DEFAULT_POLICY, Limits, RetentionPolicy
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

EVENTS = naming.events_stream(REGION).name
DEAD_LETTERS = naming.dead_letter_stream(REGION).name


def contact_created(event_id: str, contact_id: str = "c-1") -> events_pb2.Event:
    return contact_event(
        event_id, contact_id, contact_created=events_pb2.ContactCreated(entry_point="+15550100")
    )


Handler = Callable[[events_pb2.Event], Awaitable[None]]


@pytest.fixture
async def consume(js: JetStreamContext) -> AsyncIterator[Callable[..., Awaitable[DurableConsumer]]]:
    started: list[DurableConsumer] = []

    async def start(durable: str, handler: Handler, **settings: object) -> DurableConsumer:
        consumer = DurableConsumer(
            js,
            REGION,
            ConsumerSettings(
                durable=durable,
                filter_subject=f"ccevt.{REGION}.>",
                backoff_seconds=(0.05,),
                **settings,  # type: ignore[arg-type]
            ),
            handler,
        )
        await consumer.start()
        started.append(consumer)
        return consumer

    try:
        yield start
    finally:
        for consumer in started:
            await consumer.stop(2.0)


async def dead_letter(js: JetStreamContext, durable: str) -> RawStreamMsg:
    found: list[RawStreamMsg] = []

    async def arrived() -> bool:
        try:
            found.append(await js.get_last_msg(DEAD_LETTERS, naming.dead_letter_subject(REGION, durable)))
        except NotFoundError:
            return False
        return True

    await eventually(arrived, what=f"a dead letter from {durable}")
    return found[0]


async def settled(js: JetStreamContext, durable: str) -> None:
    """Wait until the consumer has nothing pending and nothing awaiting an ack."""

    async def check() -> bool:
        info = await js.consumer_info(EVENTS, durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(check, what=f"{durable} settled")


async def test_streams_are_created_and_updated_idempotently(js: JetStreamContext) -> None:
    await ensure_region_streams(js, REGION, StreamSettings())
    assert (await js.stream_info(EVENTS)).config.max_age == DEFAULT_POLICY.limits("events").max_age_seconds
    shorter = RetentionPolicy({"events": Limits(max_age_seconds=2 * 24 * 3600)})
    await ensure_region_streams(js, REGION, StreamSettings(), shorter)
    await ensure_region_streams(js, REGION, StreamSettings(), shorter)
    events = await js.stream_info(EVENTS)
    assert events.config.subjects == [f"ccevt.{REGION}.>"]
    assert events.config.max_age == 2 * 24 * 3600
    dead = await js.stream_info(DEAD_LETTERS)
    assert dead.config.subjects == [f"ccdlq.{REGION}.>"]


async def test_publishing_the_same_event_twice_stores_it_once(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    first = await publisher.publish(contact_created("evt-1"))
    again = await publisher.publish(contact_created("evt-1"))
    assert (first.stream, first.duplicate) == (EVENTS, False)
    assert again.duplicate is True
    assert again.sequence == first.sequence
    assert (await js.stream_info(EVENTS)).state.messages == 1
    stored = await js.get_last_msg(EVENTS, f"ccevt.{REGION}.acme.contact_created.c-1")
    assert events_pb2.Event.FromString(stored.data or b"").event_id == "evt-1"


async def test_events_without_id_or_payload_are_refused(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    with pytest.raises(ValueError, match="event_id"):
        await publisher.publish(contact_created(""))
    with pytest.raises(ValueError, match="no payload"):
        await publisher.publish(events_pb2.Event(event_id="e"))


async def test_consumer_receives_in_order_and_acks(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    publisher = EventPublisher(js, REGION)
    ids = [f"evt-{i}" for i in range(6)]
    for index, event_id in enumerate(ids):
        await publisher.publish(contact_created(event_id, contact_id=f"c-{index % 2}"))
    received: list[str] = []

    async def handle(event: events_pb2.Event) -> None:
        received.append(event.event_id)

    await consume("ordered", handle)
    await eventually(lambda: len(received) == len(ids), what="all events received")
    await settled(js, "ordered")
    assert received == ids
    info = await js.consumer_info(EVENTS, "ordered")
    assert info.num_redelivered == 0
    assert info.delivered.stream_seq == len(ids)


async def test_failing_handler_is_retried_and_processed_once(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    attempts: list[str] = []
    processed: list[str] = []

    async def flaky(event: events_pb2.Event) -> None:
        attempts.append(event.event_id)
        if len(attempts) <= 2:
            raise ConnectionError("downstream not ready")
        processed.append(event.event_id)

    consumer = await consume("flaky", flaky, max_deliver=5)
    await EventPublisher(js, REGION).publish(contact_created("evt-retry"))
    await eventually(lambda: processed == ["evt-retry"], what="processed after retries")
    await settled(js, "flaky")
    assert attempts == ["evt-retry"] * 3
    assert processed == ["evt-retry"]
    assert consumer.dead_lettered == 0


async def test_handler_that_always_fails_is_dead_lettered_after_max_deliver(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    attempts: list[int] = []

    async def broken(event: events_pb2.Event) -> None:
        attempts.append(1)
        raise RuntimeError("database is on fire")

    consumer = await consume("broken", broken, max_deliver=3)
    published = await EventPublisher(js, REGION).publish(contact_created("evt-doomed"))
    letter = await dead_letter(js, "broken")
    await settled(js, "broken")
    assert len(attempts) == 3
    assert consumer.dead_lettered == 1
    headers = letter.headers or {}
    assert "handler failed 3 times" in headers["Cc-Reason"]
    assert "database is on fire" in headers["Cc-Reason"]
    assert headers["Cc-Consumer"] == "broken"
    assert headers["Cc-Original-Subject"] == f"ccevt.{REGION}.acme.contact_created.c-1"
    assert headers["Cc-Original-Sequence"] == str(published.sequence)
    assert events_pb2.Event.FromString(letter.data or b"").event_id == "evt-doomed"


async def test_an_event_outlives_a_nats_outage_longer_than_max_deliver(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    """Failures because NATS itself is away (a stream electing its leader) say nothing about the
    event: it is retried past `max_deliver` instead of being dead-lettered, i.e. lost."""
    attempts: list[int] = []

    async def during_an_election(event: events_pb2.Event) -> None:
        attempts.append(1)
        if len(attempts) <= 5:
            raise NatsTimeoutError

    consumer = await consume("election", during_an_election, max_deliver=3)
    await EventPublisher(js, REGION).publish(contact_created("evt-kept"))
    await eventually(lambda: len(attempts) == 6, what="the event handled after the outage")
    await settled(js, "election")
    assert consumer.dead_lettered == 0
    info = await js.consumer_info(EVENTS, "election")
    assert info.config.max_deliver == MAX_DELIVER_WHILE_NATS_AWAY


async def test_permanent_error_is_dead_lettered_at_once(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    attempts: list[int] = []

    async def refuse(event: events_pb2.Event) -> None:
        attempts.append(1)
        raise PermanentError("tenant acme was deleted")

    await consume("strict", refuse, max_deliver=5)
    await EventPublisher(js, REGION).publish(contact_created("evt-perm"))
    letter = await dead_letter(js, "strict")
    await settled(js, "strict")
    assert attempts == [1]
    assert (letter.headers or {})["Cc-Reason"] == "permanent failure: tenant acme was deleted"


async def test_undecodable_message_is_dead_lettered_without_reaching_the_handler(
    js: JetStreamContext, consume: Callable[..., Awaitable[DurableConsumer]]
) -> None:
    handled: list[str] = []

    async def handle(event: events_pb2.Event) -> None:
        handled.append(event.event_id)

    await consume("picky", handle)
    await js.publish(f"ccevt.{REGION}.acme.contact_created.c-9", b"\x0a\x05ab")
    await EventPublisher(js, REGION).publish(contact_created("evt-good"))
    letter = await dead_letter(js, "picky")
    await eventually(lambda: handled == ["evt-good"], what="the good event after the bad one")
    assert (letter.headers or {})["Cc-Reason"].startswith("undecodable event")
    assert letter.data == b"\x0a\x05ab"


async def test_a_consumer_from_an_older_release_takes_the_new_filters(js: JetStreamContext) -> None:
    """A durable made with a wide filter is narrowed on start, keeping its position: left as it
    was, it would keep delivering kinds the new handler does not want."""
    publisher = EventPublisher(js, REGION)
    await publisher.publish(contact_created("evt-old"))
    old = DurableConsumer(
        js, REGION, ConsumerSettings(durable="narrowed", filter_subject=f"ccevt.{REGION}.>"), handler=_ignore
    )
    await old.start()
    await settled(js, "narrowed")
    await old.stop(2.0)
    await publisher.publish(contact_created("evt-new", contact_id="c-2"))
    closed = events_pb2.Event(
        event_id="evt-closed",
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id="c-2",
        source="tests",
        contact_closed=events_pb2.ContactClosed(outcome="resolved"),
    )
    await publisher.publish(closed)
    received: list[str] = []

    async def handle(event: events_pb2.Event) -> None:
        received.append(event.event_id)

    narrow = (f"ccevt.{REGION}.*.contact_closed.*", f"ccevt.{REGION}.*.message_received.*")
    new = DurableConsumer(
        js,
        REGION,
        ConsumerSettings(durable="narrowed", filter_subject=narrow[0], more_filter_subjects=narrow[1:]),
        handler=handle,
    )
    await new.start()
    try:
        await settled(js, "narrowed")
        info = await js.consumer_info(EVENTS, "narrowed")
        assert list(info.config.filter_subjects or []) == list(narrow)
        assert received == ["evt-closed"]
    finally:
        await new.stop(2.0)


async def _ignore(event: events_pb2.Event) -> None:
    del event
