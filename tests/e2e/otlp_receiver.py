"""A minimal OTLP/gRPC receiver with a trace query API, so end-to-end tests read the spans
services export and `ccctl contacts trace` can ask for one trace, as it asks Tempo or Jaeger.

No collector binary is available here; the services export exactly as in production
(OTEL_EXPORTER_OTLP_ENDPOINT), and this receiver keeps what arrives. Metrics sent to it are
accepted and dropped (the services export both to the one endpoint).

The query API answers `GET /api/traces/<trace id>` (Tempo's path) with the trace in the OTLP
JSON encoding (`{"resourceSpans": [...]}`, ids in hex), or 404 when it holds no span of it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from ccmesh.natsserver import free_port


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, object]
    #: (trace id, span id) of each span link, in hex.
    links: tuple[tuple[str, str], ...] = ()


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        #: What arrived, as sent: each span with its resource and scope (for the query API).
        self.exports: list[trace_pb2.ResourceSpans] = []

    async def Export(self, request, context):  # type: ignore[no-untyped-def]
        for resource_spans in request.resource_spans:
            self.exports.append(resource_spans)
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                "?",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes: dict[str, object] = {}
                    for attribute in span.attributes:
                        value = attribute.value
                        attributes[attribute.key] = getattr(
                            value, value.WhichOneof("value") or "string_value"
                        )
                    self.spans.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=attributes,
                            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                        )
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: bytes) -> trace_pb2.TracesData:
        """The spans of one trace, grouped by the resource and scope that sent them."""
        found = trace_pb2.TracesData()
        for resource_spans in self.exports:
            kept = trace_pb2.ResourceSpans(
                resource=resource_spans.resource, schema_url=resource_spans.schema_url
            )
            for scope_spans in resource_spans.scope_spans:
                spans = [span for span in scope_spans.spans if span.trace_id == trace_id]
                if spans:
                    kept.scope_spans.add(scope=scope_spans.scope, spans=spans)
            if kept.scope_spans:
                found.resource_spans.append(kept)
        return found


class _MetricsSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    async def Export(self, request, context):  # type: ignore[no-untyped-def]
        return metrics_service_pb2.ExportMetricsServiceResponse()


def otlp_json(traces: trace_pb2.TracesData) -> dict[str, Any]:
    """OTLP JSON: the protobuf JSON mapping, except that trace and span ids are hex strings."""
    document = json_format.MessageToDict(traces)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return document


def _hex_ids(item: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if item.get(key):
            item[key] = base64.b64decode(item[key]).hex()


class OtlpReceiver:
    def __init__(self) -> None:
        self._collector = _Collector()
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._collector, self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsSink(), self._server)
        self.port = 0
        self.query_port = 0
        self._runner: web.AppRunner | None = None

    @property
    def spans(self) -> list[ReceivedSpan]:
        return list(self._collector.spans)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def query_url(self) -> str:
        """Base URL of the trace query API (what `ccctl contacts trace --traces-url` takes)."""
        return f"http://127.0.0.1:{self.query_port}"

    async def start(self) -> None:
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        app = web.Application()
        app.router.add_get("/api/traces/{trace_id}", self._get_trace)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.query_port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.query_port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._server.stop(0)

    async def _get_trace(self, request: web.Request) -> web.Response:
        text = request.match_info["trace_id"]
        try:
            trace_id = bytes.fromhex(text)
        except ValueError:
            trace_id = b""
        if len(trace_id) != 16:
            return web.json_response({"error": f"not a trace id (32 hex digits): {text!r}"}, status=400)
        found = self._collector.trace(trace_id)
        if not found.resource_spans:
            return web.json_response({"error": f"trace {text} not found"}, status=404)
        return web.json_response(otlp_json(found))
