"""The MeshTestService implementation: echo and sleep, to exercise the runtime itself."""

from __future__ import annotations

import asyncio
from typing import Any

from contactcenter.meshtest.v1 import meshtest_pb2, meshtest_pb2_grpc

DESCRIPTOR = meshtest_pb2.DESCRIPTOR.services_by_name["MeshTestService"]
REGISTER = meshtest_pb2_grpc.add_MeshTestServiceServicer_to_server


class MeshTestServicer(meshtest_pb2_grpc.MeshTestServiceServicer):
    def __init__(self) -> None:
        self.completed_sleeps = 0

    async def Echo(self, request: meshtest_pb2.EchoRequest, context: Any) -> meshtest_pb2.EchoResponse:
        return meshtest_pb2.EchoResponse(payload=request.payload)

    async def Sleep(self, request: meshtest_pb2.SleepRequest, context: Any) -> meshtest_pb2.SleepResponse:
        await asyncio.sleep(request.milliseconds / 1000.0)
        self.completed_sleeps += 1
        return meshtest_pb2.SleepResponse(completed=True)
