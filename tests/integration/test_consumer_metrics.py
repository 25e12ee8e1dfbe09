"""Consumer lag and dead letters of the durable consumers, read from a real JetStream server:
`contactcenter.consumer.lag` is the server's count of undelivered messages, `ack_pending` the
delivered-not-acknowledged ones, and every dead letter a consumer writes is counted (from zero,
so a consumer that never failed still has a series)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _mesh import REGION, eventually
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.client import JetStreamContext
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from ccmesh import consumer_metrics as consumer_metrics_module
from ccmesh import naming
from ccmesh.consumer_metrics import ConsumerMetrics
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    PermanentError,
)
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

EVENTS = naming.events_stream(REGION).name


def event(event_id: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id="c-1",
        source="tests",
        contact_created=events_pb2.ContactCreated(entry_point="+15550100"),
    )


def points(reader: InMemoryMetricReader, name: str) -> dict[str, float]:
    """consumer name -> value."""
    found: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        assert isinstance(point, NumberDataPoint)
                        attributes: dict[str, Any] = dict(point.attributes or {})
                        assert attributes["messaging.destination.name"] == EVENTS
                        found[attributes["messaging.consumer.group.name"]] = float(point.value)
    return found


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> tuple[ConsumerMetrics, InMemoryMetricReader]:
    """The process's consumer metrics, on a meter the test reads."""
    reader = InMemoryMetricReader()
    metrics = ConsumerMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"), poll_seconds=0.1)
    monkeypatch.setattr(consumer_metrics_module, "_process_metrics", metrics)
    return metrics, reader


async def test_lag_is_what_the_server_has_not_delivered_yet(
    js: JetStreamContext, measured: tuple[ConsumerMetrics, InMemoryMetricReader]
) -> None:
    metrics, reader = measured
    config = ConsumerConfig(durable_name="idle", ack_policy=AckPolicy.EXPLICIT)
    await js.add_consumer(EVENTS, config=config)
    publisher = EventPublisher(js, REGION)
    for n in range(7):
        await publisher.publish(event(f"evt-lag-{n}"))
    metrics.track(js, EVENTS, "idle")
    try:

        async def lag_seen() -> bool:
            return points(reader, "contactcenter.consumer.lag").get("idle") == 7

        await eventually(lag_seen, what="a lag of 7")
        assert points(reader, "contactcenter.consumer.ack_pending") == {"idle": 0}
    finally:
        metrics.untrack(EVENTS, "idle")
        await metrics.stop()
    # A consumer no longer tracked is no longer reported.
    assert "idle" not in points(reader, "contactcenter.consumer.lag")


async def test_messages_held_by_a_busy_handler_are_ack_pending(
    js: JetStreamContext, measured: tuple[ConsumerMetrics, InMemoryMetricReader]
) -> None:
    metrics, reader = measured
    release = asyncio.Event()

    async def slow(_: events_pb2.Event) -> None:
        await release.wait()

    publisher = EventPublisher(js, REGION)
    for n in range(3):
        await publisher.publish(event(f"evt-busy-{n}"))
    # Published first, so the consumer's first fetch takes all three and its handler holds them.
    consumer = DurableConsumer(js, REGION, ConsumerSettings("busy", f"ccevt.{REGION}.>", batch=8), slow)
    await consumer.start()
    try:

        async def held() -> bool:
            return points(reader, "contactcenter.consumer.ack_pending").get("busy") == 3

        await eventually(held, what="3 messages awaiting ack")
        assert points(reader, "contactcenter.consumer.lag") == {"busy": 0}
    finally:
        release.set()
        await consumer.stop(2.0)
        await metrics.stop()


async def test_dead_letters_are_counted_per_consumer_from_zero(
    js: JetStreamContext, measured: tuple[ConsumerMetrics, InMemoryMetricReader]
) -> None:
    metrics, reader = measured

    async def refuse(_: events_pb2.Event) -> None:
        raise PermanentError("tenant acme was deleted")

    async def accept(_: events_pb2.Event) -> None:
        return None

    strict = DurableConsumer(js, REGION, ConsumerSettings("strict", f"ccevt.{REGION}.>"), refuse)
    easy = DurableConsumer(js, REGION, ConsumerSettings("easy", f"ccevt.{REGION}.>"), accept)
    for consumer in (strict, easy):
        await consumer.start()
    try:
        assert points(reader, "contactcenter.consumer.dead_letters") == {"strict": 0, "easy": 0}
        publisher = EventPublisher(js, REGION)
        await publisher.publish(event("evt-dead-1"))
        await publisher.publish(event("evt-dead-2"))

        async def counted() -> bool:
            return points(reader, "contactcenter.consumer.dead_letters").get("strict") == 2

        await eventually(counted, what="two dead letters counted")
        assert points(reader, "contactcenter.consumer.dead_letters")["easy"] == 0
        assert strict.dead_lettered == 2
    finally:
        for consumer in (strict, easy):
            await consumer.stop(2.0)
        await metrics.stop()
