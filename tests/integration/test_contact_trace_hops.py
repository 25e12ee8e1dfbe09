"""A contact's trace across the event stream (real nats-server, spans from an in-memory exporter):
work published from no span (a routing pass, a timer) continues the contact's trace, a batch
consumer stays in the trace of a batch that holds one trace, while a batch of several traces
starts its own span linked to each message's producer; and a contact's history read back from
the stream names the trace each event was published in."""

from __future__ import annotations

import os

import pytest
from _mesh import REGION, eventually
from _tracing import named, spans
from nats.aio.client import Client as NATS
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ccmesh import naming, telemetry
from ccmesh.contact_history import traced_contact_history
from ccmesh.envelope import new_event
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    StreamSettings,
    concurrently,
    ensure_region_streams,
)
from contactcenter.events.v1 import events_pb2

__all__ = ["spans"]  # the fixture, imported for pytest

STREAM = naming.events_stream(REGION).name


def _contact() -> str:
    return "c-" + os.urandom(6).hex()


def _closed(contact_id: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactClosed(outcome="resolved"),
        tenant_id="acme",
        region=REGION,
        source="tests",
        contact_id=contact_id,
    )


def _published_for(exporter: InMemorySpanExporter, contact_id: str) -> list:  # type: ignore[type-arg]
    return [
        s
        for s in named(exporter, f"{STREAM} publish")
        if str(dict(s.attributes or {}).get("messaging.destination.name", "")).endswith(contact_id)
    ]


async def test_a_publish_from_no_span_continues_the_contacts_trace(
    nc: NATS, spans: InMemorySpanExporter
) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    publisher = EventPublisher(js, REGION)
    contact, stranger = _contact(), _contact()
    with telemetry.tracer().start_as_current_span("POST /v1/twilio/{endpoint}/sms") as webhook:
        await publisher.publish(_closed(contact))
    await publisher.publish(_closed(contact))  # e.g. routing's pass offering it, later
    await publisher.publish(_closed(stranger))  # a contact this process never saw

    first, later = _published_for(spans, contact)
    assert first.context.trace_id == later.context.trace_id == webhook.get_span_context().trace_id
    assert later.parent is not None and later.parent.span_id == first.context.span_id
    (own,) = _published_for(spans, stranger)
    assert own.parent is None and own.context.trace_id != webhook.get_span_context().trace_id
    assert telemetry.contact_traces.span_context_of(stranger) == own.context


async def test_a_batch_of_one_trace_stays_in_it_and_a_mixed_batch_links_each(
    nc: NATS, spans: InMemorySpanExporter
) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    publisher = EventPublisher(js, REGION)
    alone, one, other = _contact(), _contact(), _contact()
    with telemetry.tracer().start_as_current_span("one contact's webhook") as webhook:
        await publisher.publish_all([_closed(alone), _closed(alone)])
    for contact in (one, other):
        with telemetry.tracer().start_as_current_span(f"webhook of {contact}"):
            await publisher.publish(_closed(contact))
    # The messages wait on the stream: each consumer's first fetch takes them as one batch.
    batches: dict[str, list[int]] = {}

    def consumer(durable: str, contacts: list[str]) -> DurableConsumer[events_pb2.Event]:
        filters = [naming.event_subject(REGION, "acme", "*", c) for c in contacts]
        settings = ConsumerSettings(
            durable=durable, filter_subject=filters[0], more_filter_subjects=filters[1:]
        )

        async def handle(event: events_pb2.Event) -> None:
            batches.setdefault(durable, []).append(len(event.contact_id))

        return DurableConsumer(js, REGION, settings, batch_handler=concurrently(handle))

    consumers = [consumer("one-trace", [alone]), consumer("two-traces", [one, other])]
    for started in consumers:
        await started.start()
    try:
        await eventually(lambda: len(named(spans, f"{STREAM} process")) >= 2, what="both batch spans")
    finally:
        for started in consumers:
            await started.stop(2.0)

    by_group = {
        dict(s.attributes or {})["messaging.consumer.group.name"]: s
        for s in named(spans, f"{STREAM} process")
    }
    assert {len(v) for v in batches.values()} == {2}, batches  # each consumer got its batch of two
    single = by_group["one-trace"]
    assert single.context.trace_id == webhook.get_span_context().trace_id
    assert single.parent is not None and single.parent.span_id in {
        s.context.span_id for s in _published_for(spans, alone)
    }
    mixed = by_group["two-traces"]
    producers = {
        (s.context.trace_id, s.context.span_id) for c in (one, other) for s in _published_for(spans, c)
    }
    assert (
        mixed.parent is None
        and {(link.context.trace_id, link.context.span_id) for link in mixed.links} == producers
    )
    assert mixed.context.trace_id not in {trace_id for trace_id, _ in producers}


async def test_a_contacts_history_names_the_trace_each_event_was_published_in(
    nc: NATS, spans: InMemorySpanExporter
) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    publisher = EventPublisher(js, REGION)
    contact = _contact()
    with telemetry.tracer().start_as_current_span("webhook") as webhook:
        await publisher.publish_all([_closed(contact), _closed(contact)])
    untraced = _closed(contact)  # published by something that carries no trace context
    await js.publish(
        naming.event_subject(REGION, "acme", "contact_closed", contact),
        untraced.SerializeToString(),
        headers={"Nats-Msg-Id": untraced.event_id},
    )

    history = await traced_contact_history(js, REGION, "acme", contact)
    expected = f"{webhook.get_span_context().trace_id:032x}"
    assert [(h.trace_id, h.sampled) for h in history] == [(expected, True), (expected, True), ("", False)]
    assert history[2].event.event_id == untraced.event_id
    with pytest.raises(ValueError, match=r"contact_id 'c\.>' is not a valid subject token"):
        await traced_contact_history(js, REGION, "acme", "c.>")
