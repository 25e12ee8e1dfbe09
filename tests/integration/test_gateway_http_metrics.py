"""`http.server.request.duration` of the gateway's edge: every request timed per method, route
template and status, over real HTTP. The route is the template, never the path (which holds
tenant and contact names), and a method HTTP does not know is `_OTHER`: the labels stay bounded."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from ccmesh import telemetry
from ccmesh.metric_buckets import REQUEST_DURATION_BUCKETS
from ccmesh.natsserver import free_port
from gateway.entrypoints.edge_middleware import Edge, EdgeSettings


def durations(reader: InMemoryMetricReader) -> dict[tuple[Any, ...], HistogramDataPoint]:
    found = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "http.server.request.duration":
                    assert metric.unit == "s"
                    for point in metric.data.data_points:
                        assert isinstance(point, HistogramDataPoint)
                        attributes = dict(point.attributes or {})
                        key = (
                            attributes["http.request.method"],
                            attributes["http.route"],
                            attributes["http.response.status_code"],
                        )
                        found[key] = point
    return found


async def test_requests_are_timed_by_method_route_template_and_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    monkeypatch.setattr(telemetry, "meter", lambda: meter)

    async def contact(request: web.Request) -> web.Response:
        return web.json_response({"contact": request.match_info["contact"]})

    edge = Edge(
        EdgeSettings(region="eu", max_body_bytes=1024, tenant_rate_per_second=100, tenant_rate_burst=100),
        None,
    )
    app = web.Application(middlewares=edge.middlewares())
    app.router.add_get("/v1/tenants/{tenant}/contacts/{contact}", contact)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for contact_id in ("c-1001", "c-1002"):
                async with session.get(f"{base}/v1/tenants/acme/contacts/{contact_id}") as response:
                    assert response.status == 200
            async with session.get(f"{base}/no/such/+447700900477") as response:
                assert response.status == 404
            async with session.request("PROPFIND", f"{base}/v1/tenants/acme/contacts/c-1") as response:
                assert response.status == 405
    finally:
        await runner.cleanup()

    points = durations(reader)
    assert {key: point.count for key, point in points.items()} == {
        ("GET", "/v1/tenants/{tenant}/contacts/{contact}", 200): 2,
        ("GET", "unmatched", 404): 1,
        ("_OTHER", "unmatched", 405): 1,
    }
    assert tuple(points[("GET", "/v1/tenants/{tenant}/contacts/{contact}", 200)].explicit_bounds) == (
        REQUEST_DURATION_BUCKETS
    )
