"""The same servicer on grpc.aio (GrpcServer): real channel, health, reflection, status mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from _mesh import SERVICE_FULL_NAME, ScriptedServicer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ccmesh.grpc_server import GrpcServer
from ccmesh.testing.meshtest_servicer import DESCRIPTOR, REGISTER
from contactcenter.meshtest.v1 import meshtest_pb2, meshtest_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
async def grpc_server() -> AsyncIterator[GrpcServer]:
    server = GrpcServer("127.0.0.1", 0, max_message_bytes=64 * 1024)
    server.add_servicer(ScriptedServicer(), DESCRIPTOR, REGISTER)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


@pytest.fixture
async def channel(grpc_server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    assert grpc_server.port > 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server.port}") as opened:
        yield opened


async def test_a_real_grpc_channel_calls_the_servicer(channel: grpc.aio.Channel) -> None:
    stub = meshtest_pb2_grpc.MeshTestServiceStub(channel)
    reply = await stub.Echo(meshtest_pb2.EchoRequest(payload=b"over grpc"), timeout=5)
    assert reply.payload == b"over grpc"
    slept = await stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=1), timeout=5)
    assert slept.completed


async def test_health_follows_set_serving(grpc_server: GrpcServer, channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE_FULL_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == SERVING, name
    await grpc_server.set_serving(False)
    for name in ("", SERVICE_FULL_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == NOT_SERVING, name
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_service(channel: grpc.aio.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    names: set[str] = set()
    call = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    async for response in call:
        names.update(service.name for service in response.list_services_response.service)
    assert SERVICE_FULL_NAME in names
    assert "grpc.health.v1.Health" in names


async def test_rpc_error_in_a_servicer_keeps_its_status(channel: grpc.aio.Channel) -> None:
    stub = meshtest_pb2_grpc.MeshTestServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"rpc-error"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such thing"
    with pytest.raises(grpc.aio.AioRpcError) as aborted:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"abort"), timeout=5)
    assert aborted.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    reply = await stub.Echo(meshtest_pb2.EchoRequest(payload=b"fine"), timeout=5)
    assert reply.payload == b"fine"


async def test_message_size_limit_applies(channel: grpc.aio.Channel) -> None:
    stub = meshtest_pb2_grpc.MeshTestServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"x" * (128 * 1024)), timeout=5)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
