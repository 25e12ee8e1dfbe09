"""Trace context across the mesh and the event stream, read from an in-memory exporter."""

from __future__ import annotations

import grpc
import pytest
from _mesh import REGION, SERVICE_FULL_NAME, eventually, meshtest, serving
from _tracing import named, spans
from nats.aio.client import Client as NATS
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ccmesh import naming, telemetry
from ccmesh.events import (
    ConsumerSettings,
    DurableConsumer,
    EventPublisher,
    StreamSettings,
    ensure_region_streams,
)
from ccmesh.rpc_client import MeshChannel
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.meshtest.v1 import meshtest_pb2

__all__ = ["spans"]  # the fixture, imported for pytest

ECHO_SPAN = f"{SERVICE_FULL_NAME}/Echo"


async def test_client_and_server_spans_share_the_trace(nc: NATS, spans: InMemorySpanExporter) -> None:
    async with serving(nc):
        stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
        with telemetry.tracer().start_as_current_span("test parent") as parent:
            await stub.Echo(meshtest_pb2.EchoRequest(payload=b"traced"))
        trace_id = parent.get_span_context().trace_id

    [client] = [s for s in named(spans, ECHO_SPAN) if s.kind == SpanKind.CLIENT]
    [server] = [s for s in named(spans, ECHO_SPAN) if s.kind == SpanKind.SERVER]
    assert client.context.trace_id == trace_id
    assert server.context.trace_id == trace_id
    assert client.parent is not None and client.parent.span_id == parent.get_span_context().span_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    assert server.parent.is_remote
    for span in (client, server):
        attributes = dict(span.attributes or {})
        assert attributes["rpc.system"] == "grpc"
        assert attributes["rpc.service"] == SERVICE_FULL_NAME
        assert attributes["rpc.method"] == "Echo"
        assert attributes["messaging.system"] == "nats"
    assert dict(server.attributes or {})["rpc.grpc.status_code"] == 0
    assert client.status.status_code != StatusCode.ERROR


async def test_error_calls_mark_the_status_code(nc: NATS, spans: InMemorySpanExporter) -> None:
    async with serving(nc):
        stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
        for payload, code in (
            (b"rpc-error", grpc.StatusCode.NOT_FOUND),
            (b"crash", grpc.StatusCode.INTERNAL),
        ):
            with pytest.raises(RpcError):
                await stub.Echo(meshtest_pb2.EchoRequest(payload=payload))
            by_kind = {s.kind: s for s in named(spans, ECHO_SPAN)}
            client, server = by_kind[SpanKind.CLIENT], by_kind[SpanKind.SERVER]
            assert server.parent is not None and server.parent.span_id == client.context.span_id
            for span in (client, server):
                assert dict(span.attributes or {})["rpc.grpc.status_code"] == code.value[0]
            assert client.status.status_code == StatusCode.ERROR
            # A server marks only its own faults as errors (OTel RPC conventions).
            server_fault = code == grpc.StatusCode.INTERNAL
            assert (server.status.status_code == StatusCode.ERROR) is server_fault
            spans.clear()


async def test_a_call_without_a_parent_starts_one_trace(nc: NATS, spans: InMemorySpanExporter) -> None:
    async with serving(nc):
        stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"root"))
    echo = named(spans, ECHO_SPAN)
    assert len(echo) == 2
    assert len({s.context.trace_id for s in echo}) == 1
    assert trace.get_current_span() is trace.INVALID_SPAN  # no span leaked into the caller's context


async def test_publish_and_process_share_the_trace(nc: NATS, spans: InMemorySpanExporter) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    handled: list[int] = []

    async def handle(event: events_pb2.Event) -> None:
        handled.append(trace.get_current_span().get_span_context().trace_id)

    consumer = DurableConsumer(
        js, REGION, ConsumerSettings(durable="traced", filter_subject=f"ccevt.{REGION}.>"), handle
    )
    await consumer.start()
    try:
        event = events_pb2.Event(
            event_id="evt-traced",
            tenant=common_pb2.TenantRef(tenant_id="acme"),
            contact_id="c-1",
            contact_closed=events_pb2.ContactClosed(outcome="resolved"),
        )
        with telemetry.tracer().start_as_current_span("test parent") as parent:
            await EventPublisher(js, REGION).publish(event)
        trace_id = parent.get_span_context().trace_id
        stream = naming.events_stream(REGION).name
        await eventually(lambda: len(named(spans, f"{stream} process")) == 1, what="process span")
    finally:
        await consumer.stop(2.0)

    [producer] = named(spans, f"{stream} publish")
    [processor] = named(spans, f"{stream} process")
    assert producer.kind == SpanKind.PRODUCER
    assert processor.kind == SpanKind.CONSUMER
    assert producer.context.trace_id == processor.context.trace_id == trace_id
    assert processor.parent is not None and processor.parent.span_id == producer.context.span_id
    assert handled == [trace_id]  # the handler runs inside the consumer span
    assert dict(producer.attributes or {})["messaging.message.id"] == "evt-traced"
    assert dict(processor.attributes or {})["messaging.consumer.group.name"] == "traced"
