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
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

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


def tracer() -> trace.Tracer:
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
