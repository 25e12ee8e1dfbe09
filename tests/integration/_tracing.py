"""Capture spans in memory, whoever installed the OpenTelemetry SDK first.

The SDK tracer provider can be set once per process, and `ccmesh.service_host.serve`
shuts the provider's processors down when it stops. So each test gets a fresh
`InMemorySpanExporter` behind its own `SimpleSpanProcessor`, added to whatever SDK
provider exists, and that processor is shut down when the test ends.

Use the `spans` fixture BEFORE creating a MeshChannel or starting a MeshServer: both read
`telemetry.tracing_enabled()` at that moment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ccmesh import telemetry


def sdk_tracer_provider() -> TracerProvider:
    telemetry.setup_telemetry("ccmesh-tests", region="test", version="0.0.0", instance_id="pytest")
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError(f"expected the OpenTelemetry SDK tracer provider, found {provider!r}")
    return provider


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    sdk_tracer_provider().add_span_processor(processor)
    assert telemetry.tracing_enabled()
    try:
        yield exporter
    finally:
        processor.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]
