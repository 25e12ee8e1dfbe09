"""Binding generated servicers, the NATS servicer context and channel checks: no I/O."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from nats.aio.client import Client as NATS

from ccmesh.rpc_client import MeshChannel
from ccmesh.rpc_context import AbortRpc, NatsServicerContext, current_deadline
from ccmesh.servicer_binding import bind_servicer, service_token
from ccmesh.status import RpcError
from ccmesh.testing.meshtest_servicer import DESCRIPTOR, MeshTestServicer
from contactcenter.meshtest.v1 import meshtest_pb2


def test_binding_resolves_methods_paths_and_message_types() -> None:
    servicer = MeshTestServicer()
    binding = bind_servicer(servicer, DESCRIPTOR)
    assert binding.service == "meshtest"
    assert binding.full_name == "contactcenter.meshtest.v1.MeshTestService"
    assert set(binding.methods) == {"Echo", "Sleep"}
    echo = binding.methods["Echo"]
    assert echo.path == "/contactcenter.meshtest.v1.MeshTestService/Echo"
    assert echo.request_type is meshtest_pb2.EchoRequest
    assert echo.response_type is meshtest_pb2.EchoResponse
    assert binding.methods["Sleep"].request_type is meshtest_pb2.SleepRequest
    assert echo.handler == servicer.Echo


def test_servicer_missing_a_method_is_refused() -> None:
    class OnlyEcho:
        async def Echo(self, request: Any, context: Any) -> Any:
            return meshtest_pb2.EchoResponse()

    with pytest.raises(ValueError, match="OnlyEcho has no method Sleep"):
        bind_servicer(OnlyEcho(), DESCRIPTOR)


def _service_in_package(package: str) -> ServiceDescriptor:
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="odd.proto", package=package, syntax="proto3")
    file.message_type.add(name="Empty")
    service = file.service.add(name="OddService")
    service.method.add(name="Call", input_type=f".{package}.Empty", output_type=f".{package}.Empty")
    pool.Add(file)
    return pool.FindServiceByName(f"{package}.OddService")


@pytest.mark.parametrize("package", ["contactcenter.odd", "contactcenter.odd.v2", "a.b.c.v1"])
def test_service_token_needs_a_root_service_v1_package(package: str) -> None:
    assert service_token(DESCRIPTOR) == "meshtest"
    with pytest.raises(ValueError, match="is not of the form"):
        service_token(_service_in_package(package))


def test_context_hides_transport_headers_and_lowercases_metadata() -> None:
    context = NatsServicerContext(
        {
            "Authorization": "Bearer t",
            "traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
            "Grpc-Timeout-Ms": "100",
            "X-Tenant": "acme",
        },
        deadline=time.monotonic() + 5,
        peer="_INBOX.x.1",
    )
    assert dict(context.invocation_metadata()) == {"authorization": "Bearer t", "x-tenant": "acme"}
    assert 4 < context.time_remaining() <= 5
    assert context.peer() == "_INBOX.x.1"
    assert NatsServicerContext(None, time.monotonic() - 1, peer="").time_remaining() == 0.0
    assert NatsServicerContext(None, time.monotonic(), peer="").invocation_metadata() == ()


async def test_context_abort_raises_the_status() -> None:
    context = NatsServicerContext(None, time.monotonic() + 1, peer="")
    with pytest.raises(AbortRpc) as caught:
        await context.abort(grpc.StatusCode.NOT_FOUND, "gone")
    assert isinstance(caught.value, RpcError)
    assert (caught.value.code, caught.value.message) == (grpc.StatusCode.NOT_FOUND, "gone")


def test_channel_timeout_never_outlives_the_inherited_deadline() -> None:
    channel = MeshChannel(NATS(), "eu", default_timeout=10.0)
    assert channel.effective_timeout(None) == 10.0
    assert channel.effective_timeout(3.0) == 3.0
    token = current_deadline.set(time.monotonic() + 1.0)
    try:
        assert channel.effective_timeout(30.0) <= 1.0
    finally:
        current_deadline.reset(token)
    token = current_deadline.set(time.monotonic() - 0.1)
    try:
        with pytest.raises(RpcError) as caught:
            channel.effective_timeout(5.0)
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        current_deadline.reset(token)


def test_channel_refuses_streaming_and_odd_paths() -> None:
    channel = MeshChannel(NATS(), "eu")
    with pytest.raises(RpcError) as caught:
        channel.unary_stream("/contactcenter.x.v1.S/M")
    assert caught.value.code == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(ValueError, match="is not"):
        channel.unary_unary("/NoPackage/M", bytes, bytes)
    with pytest.raises(ValueError, match="serializer"):
        channel.unary_unary("/contactcenter.x.v1.S/M")
