"""The Prometheus text exposition of the OTel metrics: names, labels, types, histograms."""

from __future__ import annotations

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider

from ccmesh.prometheus import (
    ExpositionConfigError,
    PrometheusReader,
    endpoint_address,
    label_name,
    prometheus_name,
)


def exposition_of(record) -> str:
    reader = PrometheusReader({"region": "eu", "service": "routing"})
    provider = MeterProvider(metric_readers=[reader])
    record(provider.get_meter("test"))
    try:
        return reader.exposition()
    finally:
        provider.shutdown()


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("contactcenter.queue.depth", "{contact}", "gauge", "contactcenter_queue_depth"),
        ("contactcenter.queue.longest_wait", "s", "gauge", "contactcenter_queue_longest_wait_seconds"),
        ("contactcenter.queue.service_level", "1", "gauge", "contactcenter_queue_service_level_ratio"),
        ("contactcenter.offers", "{change}", "counter", "contactcenter_offers_total"),
        ("rpc.server.busy_time", "s", "counter", "rpc_server_busy_time_seconds_total"),
        (
            "contactcenter.integration.delivery.latency",
            "s",
            "histogram",
            "contactcenter_integration_delivery_latency_seconds",
        ),
        ("already.seconds", "s", "gauge", "already_seconds"),
        ("requests.total", "", "counter", "requests_total"),
        ("payload.size", "By", "histogram", "payload_size_bytes"),
        ("ratio.counter", "1", "counter", "ratio_counter_total"),
    ],
)
def test_names_follow_the_otel_to_prometheus_rules(name: str, unit: str, kind: str, expected: str) -> None:
    assert prometheus_name(name, unit, kind) == expected


def test_attribute_names_become_label_names() -> None:
    assert label_name("rpc.service") == "rpc_service"
    assert label_name("http.response.status_code") == "http_response_status_code"


def test_counter_carries_its_attributes_and_the_resource_labels() -> None:
    def record(meter) -> None:
        counter = meter.create_counter("contactcenter.offers", unit="{change}", description="Routing changes")
        counter.add(2, {"tenant": "acme", "queue": "sales", "outcome": "accepted"})
        counter.add(1, {"tenant": "acme", "queue": "sales", "outcome": "declined"})

    text = exposition_of(record)
    assert "# HELP contactcenter_offers_total Routing changes\n" in text
    assert "# TYPE contactcenter_offers_total counter\n" in text
    assert (
        'contactcenter_offers_total{outcome="accepted",queue="sales",region="eu",'
        'service="routing",tenant="acme"} 2\n' in text
    )
    assert 'outcome="declined"' in text


def test_gauges_up_down_counters_and_attribute_dots() -> None:
    def record(meter) -> None:
        meter.create_observable_gauge(
            "contactcenter.queue.service_level",
            [lambda _: [Observation(0.75, {"tenant": "acme", "queue": "sales"})]],
            unit="1",
        )
        updown = meter.create_up_down_counter("contactcenter.integration.dead_letters", unit="{event}")
        updown.add(3, {"subscription": "crm"})
        updown.add(-1, {"subscription": "crm"})

        def requests(_: CallbackOptions):
            yield Observation(7, {"rpc.system": "grpc", "rpc.service": "contactcenter.routing.v1.Routing"})

        meter.create_observable_counter("rpc.server.requests", [requests], unit="{request}")

    text = exposition_of(record)
    assert "# TYPE contactcenter_queue_service_level_ratio gauge\n" in text
    assert (
        'contactcenter_queue_service_level_ratio{queue="sales",region="eu",'
        'service="routing",tenant="acme"} 0.75' in text
    )
    assert "# TYPE contactcenter_integration_dead_letters gauge\n" in text
    assert (
        'contactcenter_integration_dead_letters{region="eu",service="routing",subscription="crm"} 2\n' in text
    )
    assert "# TYPE rpc_server_requests_total counter\n" in text
    assert (
        'rpc_server_requests_total{region="eu",rpc_service="contactcenter.routing.v1.Routing",'
        'rpc_system="grpc",service="routing"} 7\n'
    ) in text


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    def record(meter) -> None:
        histogram = meter.create_histogram(
            "contactcenter.integration.delivery.latency",
            unit="s",
            explicit_bucket_boundaries_advisory=[0.1, 1.0],
        )
        for value in (0.05, 0.5, 0.7, 3.0):
            histogram.record(value, {"subscription": "crm"})

    text = exposition_of(record)
    name = "contactcenter_integration_delivery_latency_seconds"
    labels = 'region="eu",service="routing",subscription="crm"'
    assert f"# TYPE {name} histogram\n" in text
    assert f'{name}_bucket{{{labels},le="0.1"}} 1\n' in text
    assert f'{name}_bucket{{{labels},le="1.0"}} 3\n' in text
    assert f'{name}_bucket{{{labels},le="+Inf"}} 4\n' in text
    assert f"{name}_sum{{{labels}}} 4.25\n" in text
    assert f"{name}_count{{{labels}}} 4\n" in text


def test_label_values_are_escaped_and_attributes_win_over_resource_labels() -> None:
    def record(meter) -> None:
        meter.create_counter("odd").add(1, {"queue": 'say "hi"\\\nbye', "region": "us"})

    text = exposition_of(record)
    assert 'odd_total{queue="say \\"hi\\"\\\\\\nbye",region="us",service="routing"} 1\n' in text


def test_no_metrics_yet_is_an_empty_exposition() -> None:
    assert exposition_of(lambda meter: None) == ""


def test_endpoint_address_from_the_environment() -> None:
    assert endpoint_address({}) is None
    assert endpoint_address({"OTEL_EXPORTER_PROMETHEUS_PORT": " "}) is None
    assert endpoint_address({"OTEL_EXPORTER_PROMETHEUS_PORT": "9464"}) == ("localhost", 9464)
    assert endpoint_address(
        {"OTEL_EXPORTER_PROMETHEUS_PORT": "9464", "OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0"}
    ) == ("0.0.0.0", 9464)


@pytest.mark.parametrize(
    ("raw", "problem"), [("metrics", "must be a port number"), ("70000", "must be between 0 and 65535")]
)
def test_an_unusable_port_names_the_variable(raw: str, problem: str) -> None:
    with pytest.raises(ExpositionConfigError, match=f"OTEL_EXPORTER_PROMETHEUS_PORT {problem}"):
        endpoint_address({"OTEL_EXPORTER_PROMETHEUS_PORT": raw})
