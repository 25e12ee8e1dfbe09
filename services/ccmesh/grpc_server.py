"""Serve the same servicers on grpc.aio: the external API for platform teams.

Adds the standard health service (grpc.health.v1, one entry per gRPC service plus the
overall "" entry) and server reflection, so grpcurl and load balancers work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ccmesh.rpc_context import current_method, current_request
from ccmesh.status import RpcError


class _StatusMapping:
    """Servicer proxy: an RpcError (e.g. from a downstream mesh call) ends the call with its
    own status instead of grpc.aio's generic UNKNOWN, as the mesh transport does."""

    def __init__(self, servicer: object, full_name: str) -> None:
        self._servicer = servicer
        self._full_name = full_name

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._servicer, name)
        if name.startswith("_") or not callable(method):
            return method

        path = f"/{self._full_name}/{name}"

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            # grpc.aio runs each call in its own task: the value stays with this call.
            current_method.set(path)
            current_request.set(request)
            try:
                return await method(request, context)
            except RpcError as error:
                await context.abort(error.code, error.message)

        return call


class GrpcServer:
    def __init__(self, host: str, port: int, max_message_bytes: int) -> None:
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ]
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._service_names: list[str] = []
        self._requested = f"{host}:{port}"
        self.port = 0

    def add_servicer(
        self,
        servicer: object,
        descriptor: ServiceDescriptor,
        register: Callable[[Any, grpc.aio.Server], None],
    ) -> None:
        """`register` is the generated `add_<Service>Servicer_to_server` function."""
        register(_StatusMapping(servicer, descriptor.full_name), self._server)
        self._service_names.append(descriptor.full_name)

    async def start(self) -> int:
        names: Sequence[str] = (
            *self._service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, self._server)
        self.port = self._server.add_insecure_port(self._requested)
        if self.port == 0:
            raise OSError(f"could not bind the gRPC API to {self._requested}")
        await self._server.start()
        await self.set_serving(True)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self._service_names):
            await self._health.set(name, status)

    async def stop(self, grace_seconds: float) -> None:
        await self.set_serving(False)
        await self._server.stop(grace_seconds)
