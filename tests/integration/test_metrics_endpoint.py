"""`GET /metrics` over real HTTP: what a Prometheus scrape sees, and a clear error on a taken port."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from ccmesh.prometheus import CONTENT_TYPE, ExpositionConfigError, MetricsEndpoint, PrometheusReader


@pytest.fixture
def served():
    reader = PrometheusReader({"region": "eu", "service": "integration"})
    provider = MeterProvider(metric_readers=[reader])
    endpoint = MetricsEndpoint(reader, "127.0.0.1", 0)
    yield provider.get_meter("test"), reader, endpoint
    endpoint.close()
    provider.shutdown()


def test_a_scrape_reads_the_current_values(served) -> None:
    meter, _, endpoint = served
    deliveries = meter.create_counter("contactcenter.integration.deliveries", unit="{delivery}")
    deliveries.add(1, {"subscription": "crm", "outcome": "delivered"})
    url = f"http://127.0.0.1:{endpoint.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"] == CONTENT_TYPE
        first = response.read().decode()
    assert (
        'contactcenter_integration_deliveries_total{outcome="delivered",region="eu",'
        'service="integration",subscription="crm"} 1\n'
    ) in first
    deliveries.add(2, {"subscription": "crm", "outcome": "delivered"})
    with urllib.request.urlopen(url, timeout=5) as response:
        assert 'subscription="crm"} 3\n' in response.read().decode()


def test_other_paths_are_not_found(served) -> None:
    _, _, endpoint = served
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}/", timeout=5)
    assert error.value.code == 404


def test_a_taken_port_is_a_clear_error(served) -> None:
    _, reader, endpoint = served
    with pytest.raises(ExpositionConfigError, match=rf"cannot serve /metrics on 127.0.0.1:{endpoint.port} "):
        MetricsEndpoint(reader, "127.0.0.1", endpoint.port)
