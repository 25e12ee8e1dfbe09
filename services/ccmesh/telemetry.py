"""OpenTelemetry setup and W3C trace-context propagation over NATS headers.

`setup_telemetry` installs the SDK tracer and meter providers once per process, with the
service's resource attributes, and exports over OTLP/gRPC when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set (standard OTEL_* variables apply: `OTEL_TRACES_SAMPLER`
and `OTEL_TRACES_SAMPLER_ARG` choose the sampler; launchers default them with
`default_sampling`). Without an endpoint spans are still created, so trace ids flow through
every hop and into logs. With `OTEL_EXPORTER_PROMETHEUS_PORT` set, the metrics are also served
at `/metrics` for Prometheus to scrape (`ccmesh.prometheus`).

Span names and attributes follow the semantic conventions: RPC spans are named
`<package>.<Service>/<Method>` with `rpc.system=grpc` (the mesh carries gRPC semantics) and
`messaging.system=nats`; messaging spans are named `<destination> publish|process`, as the
aio-pika instrumentation does.

One trace per contact: the trace a contact starts in (its provider webhook's request, or
`new_trace_span` for a chat customer's first message or an e-mail) is the trace of everything
later done for it. Each process remembers the trace context it last saw for each contact
(`ContactTraces`, fed by the event consumers and the publisher). Work that starts on its own for
a contact continues that trace: a publish with no span current (a routing pass offering it)
through `contact_context`, an action begun in another trace (an agent's, on the workspace
socket) through `contact_span`, linked to the span that started it. The sampling decision is
the contact's: parent-based samplers keep or drop the whole trace together.

Every log line carries the trace and span id of the work it was written in (`TraceIdFilter`,
installed by `configure_logging`), so a trace id found in `ccctl contacts show` finds the lines.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TextIO

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ccmesh import prometheus

INSTRUMENTATION = "ccmesh"
_installed = False
_metrics_endpoint: prometheus.MetricsEndpoint | None = None

#: The sampling a platform starts with unless its operator chose one: a trace is kept or dropped
#: once, where it starts (1 in 100), and every later hop follows that decision. Recording every
#: span cost 10-15% of each service's CPU; `bench/platform --sampler always_off` measures the rest.
DEFAULT_SAMPLER = "parentbased_traceidratio"
DEFAULT_SAMPLER_ARG = "0.01"
SAMPLER_VARIABLES = ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG")


def default_sampling(environ: Mapping[str, str]) -> dict[str, str]:
    """The sampler variables to add to a service's environment: none when `environ` names a
    sampler already (the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself)."""
    if any(environ.get(name, "").strip() for name in SAMPLER_VARIABLES):
        return {}
    return {"OTEL_TRACES_SAMPLER": DEFAULT_SAMPLER, "OTEL_TRACES_SAMPLER_ARG": DEFAULT_SAMPLER_ARG}


def setup_telemetry(
    service_name: str,
    *,
    region: str,
    version: str,
    instance_id: str,
    span_processors: list[SpanProcessor] | None = None,
    metric_readers: list[MetricReader] | None = None,
) -> bool:
    """Install providers (first call wins; later calls are ignored and return False)."""
    global _installed
    if _installed:
        return False
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "contactcenter",
            "service.version": version,
            "service.instance.id": instance_id,
            "cloud.region": region,
        }
    )
    tracer_provider = TracerProvider(resource=resource)
    readers = list(metric_readers or [])
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    global _metrics_endpoint
    address = prometheus.endpoint_address(os.environ)
    if address is not None:  # Prometheus scrapes /metrics beside (or instead of) OTLP
        prometheus_reader = prometheus.PrometheusReader(prometheus.constant_labels_of(resource))
        readers.append(prometheus_reader)
        _metrics_endpoint = prometheus.MetricsEndpoint(prometheus_reader, *address)
    for processor in span_processors or []:
        tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _installed = True
    return True


def shutdown_telemetry() -> None:
    """Flush and stop exporters (spans still buffered are sent)."""
    global _metrics_endpoint
    if _metrics_endpoint is not None:
        _metrics_endpoint.close()
        _metrics_endpoint = None
    tracer_provider = trace.get_tracer_provider()
    if isinstance(tracer_provider, TracerProvider):
        tracer_provider.shutdown()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.shutdown()


@functools.cache
def tracer() -> trace.Tracer:
    # One tracer for the process: `get_tracer` builds a new one per call (its scope, a lock),
    # a measurable share of a request. Before setup it is the API's proxy, which follows the
    # provider set later.
    return trace.get_tracer(INSTRUMENTATION)


def meter() -> metrics.Meter:
    return metrics.get_meter(INSTRUMENTATION)


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write `traceparent` (and `tracestate`, baggage) of the current span into NATS headers."""
    propagate.inject(headers, context=context)


def extract(headers: Mapping[str, str] | None) -> Context:
    """The remote parent context carried in NATS headers (empty context when none)."""
    return propagate.extract(headers or {})


def follows_parent_sampling() -> bool:
    """Whether the sampler honours the parent's decision (ParentBased, the SDK default).

    Then a child of an unsampled parent is never recorded, and the hot paths can pass the
    parent's context on without asking the SDK to build a span that records nothing.
    """
    from opentelemetry.sdk.trace.sampling import ParentBased

    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and isinstance(provider.sampler, ParentBased)


def unsampled_parent(context: Context) -> bool:
    span_context = trace.get_current_span(context).get_span_context()
    return span_context.is_valid and not span_context.trace_flags.sampled


def tracing_enabled() -> bool:
    """Whether spans are recorded at all (an SDK provider is installed and not disabled).

    Hot paths check this once and skip span bookkeeping entirely when nobody records spans.
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return isinstance(trace.get_tracer_provider(), TracerProvider)


# -- one trace per contact ------------------------------------------------------------------

#: Contacts whose trace context one process keeps (about 100 bytes each); the least recently
#: seen is forgotten first. A contact's work happens within minutes of its last event.
CONTACT_TRACES_KEPT = 20_000
#: The span attribute naming the contact a span worked for (an opaque id, no personal data):
#: trace back-ends can search by it.
CONTACT_ATTRIBUTE = "contactcenter.contact.id"

_TRACE_CONTEXT = TraceContextTextMapPropagator()


class ContactTraces:
    """The trace each contact's work continues in, as this process last saw it.

    The first trace seen for a contact is its trace. A later span of that same trace becomes
    the parent of what follows (the tree then shows what led to what); a span of another trace
    does not replace it: work that began elsewhere joins the contact's trace with `contact_span`
    and keeps a link to where it began.
    """

    def __init__(self, capacity: int = CONTACT_TRACES_KEPT) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._contexts: OrderedDict[str, trace.SpanContext] = OrderedDict()

    def __len__(self) -> int:
        return len(self._contexts)

    def remember(self, contact_id: str, span_context: trace.SpanContext) -> None:
        if not contact_id or not span_context.is_valid:
            return
        known = self._contexts.get(contact_id)
        if known is None or known.trace_id == span_context.trace_id:
            self._contexts[contact_id] = span_context
        self._contexts.move_to_end(contact_id)
        if len(self._contexts) > self._capacity:
            self._contexts.popitem(last=False)

    def span_context_of(self, contact_id: str) -> trace.SpanContext | None:
        return self._contexts.get(contact_id)

    def forget(self, contact_id: str) -> None:
        self._contexts.pop(contact_id, None)


#: This process's contact traces (the consumers, the publisher and `contact_span` share it).
contact_traces = ContactTraces()


def trace_context_of(headers: Mapping[str, str] | None) -> trace.SpanContext:
    """The span context a message's `traceparent` header names (invalid when it names none)."""
    if not headers or "traceparent" not in headers:
        return trace.INVALID_SPAN_CONTEXT
    return trace.get_current_span(_TRACE_CONTEXT.extract(headers)).get_span_context()


def remember_contact(contact_id: str, headers: Mapping[str, str] | None) -> None:
    """Take the trace a contact's message carries (its headers) as the contact's, if it is new."""
    contact_traces.remember(contact_id, trace_context_of(headers))


def contact_context(contact_id: str, traces: ContactTraces | None = None) -> Context | None:
    """Where to start work for `contact_id` when no span is current (a background pass, a
    timer): the contact's trace if this process knows it, else None (a new trace)."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    known = (traces if traces is not None else contact_traces).span_context_of(contact_id)
    return trace.set_span_in_context(trace.NonRecordingSpan(known)) if known is not None else None


@contextlib.contextmanager
def contact_span(
    contact_id: str,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int | bool] | None = None,
    traces: ContactTraces | None = None,
    using: trace.Tracer | None = None,
) -> Iterator[Span]:
    """A span for work on one contact, in the contact's trace.

    Work that another trace started (an agent's socket session, a batch of messages) is parented
    on the contact's trace and linked to the span that started it. For a contact this process
    has not seen, the span is a child of the current span, and its trace becomes the contact's.
    (`traces` and `using` default to this process's contact traces and tracer.)
    """
    traces = traces if traces is not None else contact_traces
    using = using or tracer()
    current = trace.get_current_span().get_span_context()
    known = traces.span_context_of(contact_id)
    labelled = {CONTACT_ATTRIBUTE: contact_id, **(attributes or {})}
    if known is not None and known.trace_id != current.trace_id:
        with using.start_as_current_span(
            name,
            context=trace.set_span_in_context(trace.NonRecordingSpan(known)),
            kind=kind,
            links=[Link(current)] if current.is_valid else None,
            attributes=labelled,
        ) as span:
            yield span
        return
    with using.start_as_current_span(name, kind=kind, attributes=labelled) as span:
        traces.remember(contact_id, span.get_span_context())
        yield span


@contextlib.contextmanager
def new_trace_span(
    name: str, *, kind: SpanKind = SpanKind.SERVER, using: trace.Tracer | None = None
) -> Iterator[Span]:
    """A span that starts a trace of its own, linked to the current span: a contact beginning
    on a long-lived connection (a chat socket) gets its own trace, not the connection's. The
    sampler decides for it as for any trace that starts here."""
    current = trace.get_current_span().get_span_context()
    with (using or tracer()).start_as_current_span(
        name, context=Context(), kind=kind, links=[Link(current)] if current.is_valid else None
    ) as span:
        yield span


def trace_id_hex(span_context: trace.SpanContext) -> str:
    """The W3C form of a trace id (32 hex digits), "" for an invalid context."""
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


# -- trace ids on log lines -----------------------------------------------------------------

#: The log line of every service: who wrote it, and the trace and span it was written in
#: ("0" outside any trace), named as the OpenTelemetry logging instrumentation names them.
LOG_FORMAT = (
    "%(asctime)s {service} %(levelname)s %(name)s "
    "[trace_id=%(otelTraceID)s span_id=%(otelSpanID)s]: %(message)s"
)


class TraceIdFilter(logging.Filter):
    """Puts the current trace and span id on each record (`otelTraceID`, `otelSpanID`).

    Installed on a handler, so every logger's records get them. A record that already carries
    them (set by the caller with `extra=`) keeps its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "otelTraceID"):
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                record.otelTraceID = format(span_context.trace_id, "032x")
                record.otelSpanID = format(span_context.span_id, "016x")
            else:
                record.otelTraceID = record.otelSpanID = "0"
        return True


def configure_logging(
    service_name: str, level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """The process's log lines as `LOG_FORMAT` says, each with its trace id."""
    logging.basicConfig(
        level=level, format=LOG_FORMAT.format(service=service_name), stream=stream or sys.stderr
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TraceIdFilter) for f in handler.filters):
            handler.addFilter(TraceIdFilter())
