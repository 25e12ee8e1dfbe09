"""`rpc.server.call.duration`: every mesh request is timed per service, method and status code;
a method name the service does not have is recorded as `_OTHER`, so a caller cannot grow the
label set."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _mesh import REGION, meshtest, serving
from nats.aio.client import Client as NATS
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from ccmesh import naming, telemetry
from ccmesh.rpc_client import MeshChannel
from ccmesh.rpc_server import CALL_DURATION_BUCKETS
from ccmesh.status import RpcError
from contactcenter.meshtest.v1 import meshtest_pb2


def durations(reader: InMemoryMetricReader) -> dict[tuple[str, str], HistogramDataPoint]:
    """(method, status code) -> point."""
    found = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "rpc.server.call.duration":
                    assert metric.unit == "s"
                    for point in metric.data.data_points:
                        assert isinstance(point, HistogramDataPoint)
                        attributes: dict[str, Any] = dict(point.attributes or {})
                        service = (attributes["rpc.system"], attributes["rpc.service"])
                        assert service == ("grpc", "MeshTestService")
                        found[(attributes["rpc.method"], attributes["rpc.grpc.status_code"])] = point
    return found


async def test_each_request_is_timed_by_method_and_status(nc: NATS, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    monkeypatch.setattr(telemetry, "meter", lambda: meter)
    stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
    async with serving(nc):
        for _ in range(2):
            await stub.Echo(meshtest_pb2.EchoRequest(payload=b"hello"), timeout=5)
        with pytest.raises(RpcError) as refused:
            await stub.Echo(meshtest_pb2.EchoRequest(payload=b"rpc-error"), timeout=5)
        assert refused.value.code is grpc.StatusCode.NOT_FOUND
        for invented in ("Guess1", "Guess2"):
            await nc.request(naming.rpc_subject(REGION, "meshtest", invented), b"", timeout=5)

    points = durations(reader)
    assert {key: point.count for key, point in points.items()} == {
        ("Echo", "OK"): 2,
        ("Echo", "NOT_FOUND"): 1,
        ("_OTHER", "UNIMPLEMENTED"): 2,
    }
    ok = points[("Echo", "OK")]
    assert tuple(ok.explicit_bounds) == CALL_DURATION_BUCKETS
    assert 0 < ok.sum < 5
