"""Routing's PredictServiceLevel on both transports: the external gRPC API and the mesh."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.domain.erlang_c import forecast

pytestmark = pytest.mark.timeout(60)


def predict(tenant: str = "acme", **changes: Any) -> routing_pb2.PredictServiceLevelRequest:
    fields: dict[str, float] = {
        "arrivals_per_hour": 200,
        "average_handle_seconds": 180,
        "agents": 14,
        "target_answer_seconds": 20,
    }
    fields.update(changes)
    return routing_pb2.PredictServiceLevelRequest(tenant_id=tenant, **fields)  # type: ignore[arg-type]


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def channel(platform: Platform) -> AsyncIterator[grpc.aio.Channel]:
    await platform.start("routing", grpc=True)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.grpc_port('routing')}") as opened:
        yield opened


async def test_prediction_over_grpc_matches_the_model_and_the_mesh(
    platform: Platform,
    channel: grpc.aio.Channel,
) -> None:
    token = platform.token("acme", "supervisor")
    over_grpc = await RoutingServiceStub(channel).PredictServiceLevel(
        predict(), metadata=bearer(token), timeout=5
    )
    over_mesh = await platform.stub(RoutingServiceStub, tenant="acme", role="supervisor").PredictServiceLevel(
        predict()
    )
    assert over_grpc == over_mesh
    expected = forecast(200, 180, 14, 20)
    assert over_grpc.traffic_erlangs == pytest.approx(expected.traffic_erlangs)
    assert over_grpc.probability_of_waiting == pytest.approx(0.1741, abs=5e-5)
    assert over_grpc.service_level == pytest.approx(0.888, abs=5e-4)
    assert over_grpc.average_wait_seconds == pytest.approx(7.8, abs=0.05)
    assert over_grpc.occupancy == pytest.approx(expected.occupancy)


async def test_unstable_queue_over_grpc_reports_no_service_and_infinite_wait(
    platform: Platform,
    channel: grpc.aio.Channel,
) -> None:
    reply = await RoutingServiceStub(channel).PredictServiceLevel(
        predict(agents=10), metadata=bearer(platform.token("acme", "admin")), timeout=5
    )
    assert reply.service_level == 0.0
    assert reply.probability_of_waiting == 1.0
    assert math.isinf(reply.average_wait_seconds)


async def test_grpc_health_reports_the_routing_service_serving(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "contactcenter.routing.v1.RoutingService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("metadata", "tenant", "code", "named"),
    [
        pytest.param((), "acme", grpc.StatusCode.UNAUTHENTICATED, "token", id="no-token"),
        pytest.param(
            (("authorization", "Bearer cct1.e30.AAAA"),),
            "acme",
            grpc.StatusCode.UNAUTHENTICATED,
            "signature",
            id="forged",
        ),
        pytest.param(None, "globex", grpc.StatusCode.PERMISSION_DENIED, "globex", id="other-tenant"),
    ],
)
async def test_access_is_checked_over_grpc(
    platform: Platform,
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...] | None,
    tenant: str,
    code: grpc.StatusCode,
    named: str,
) -> None:
    sent = bearer(platform.token("acme", "supervisor")) if metadata is None else metadata
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await RoutingServiceStub(channel).PredictServiceLevel(predict(tenant), metadata=sent, timeout=5)
    assert caught.value.code() is code
    assert named in (caught.value.details() or "")


async def test_agents_may_not_predict_on_either_transport(
    platform: Platform,
    channel: grpc.aio.Channel,
) -> None:
    token = platform.token("acme", "agent")
    with pytest.raises(grpc.aio.AioRpcError) as over_grpc:
        await RoutingServiceStub(channel).PredictServiceLevel(predict(), metadata=bearer(token), timeout=5)
    assert over_grpc.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "'agent'" in (over_grpc.value.details() or "")
    with pytest.raises(RpcError) as over_mesh:
        await platform.stub(RoutingServiceStub, tenant="acme", role="agent").PredictServiceLevel(predict())
    assert over_mesh.value.code is grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"arrivals_per_hour": -1}, "arrivals_per_hour"),
        ({"arrivals_per_hour": math.nan}, "arrivals_per_hour"),
        ({"average_handle_seconds": 0}, "average_handle_seconds"),
        ({"average_handle_seconds": math.inf}, "average_handle_seconds"),
        ({"target_answer_seconds": -20}, "target_answer_seconds"),
    ],
)
async def test_bad_parameters_are_invalid_argument_naming_the_field_on_both_transports(
    platform: Platform,
    channel: grpc.aio.Channel,
    changes: dict[str, Any],
    field: str,
) -> None:
    token = platform.token("acme", "supervisor")
    with pytest.raises(grpc.aio.AioRpcError) as over_grpc:
        await RoutingServiceStub(channel).PredictServiceLevel(
            predict(**changes), metadata=bearer(token), timeout=5
        )
    assert over_grpc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (over_grpc.value.details() or "")
    with pytest.raises(RpcError) as over_mesh:
        await platform.stub(RoutingServiceStub, tenant="acme", role="supervisor").PredictServiceLevel(
            predict(**changes)
        )
    assert over_mesh.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert field in over_mesh.value.message
