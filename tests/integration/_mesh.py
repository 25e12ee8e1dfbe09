"""Helpers for the mesh runtime's integration tests: servers, stubs, servicers, polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import grpc
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.rpc_server import MeshServer
from ccmesh.status import RpcError
from ccmesh.testing.meshtest_servicer import DESCRIPTOR, MeshTestServicer
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.meshtest.v1 import meshtest_pb2, meshtest_pb2_grpc

REGION = "test"


def contact_event(event_id: str, contact_id: str, **payload: Any) -> events_pb2.Event:
    """An event of tenant acme's contact in REGION with its one payload, e.g.
    `contact_event("e-1", "c-1", message_sent=events_pb2.MessageSent(text="Hi"))`."""
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id=contact_id,
        source="tests",
        **payload,
    )


SERVICE_FULL_NAME = "contactcenter.meshtest.v1.MeshTestService"


class ScriptedServicer(MeshTestServicer):
    """MeshTestServicer whose Echo misbehaves on request, and which tells when a Sleep starts.

    Echo payloads: `rpc-error` raises RpcError(NOT_FOUND), `abort` aborts with
    FAILED_PRECONDITION through the context, `crash` raises an ordinary exception.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sleep_started = asyncio.Event()
        self.echoes = 0

    async def Echo(self, request: meshtest_pb2.EchoRequest, context: Any) -> meshtest_pb2.EchoResponse:
        self.echoes += 1
        if request.payload == b"rpc-error":
            raise RpcError(grpc.StatusCode.NOT_FOUND, "no such thing")
        if request.payload == b"abort":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "aborted on purpose")
        if request.payload == b"crash":
            raise RuntimeError("boom")
        return await super().Echo(request, context)

    async def Sleep(self, request: meshtest_pb2.SleepRequest, context: Any) -> meshtest_pb2.SleepResponse:
        self.sleep_started.set()
        return await super().Sleep(request, context)


def meshtest(channel: MeshChannel) -> Any:
    """The generated MeshTestService stub over the mesh (calls are awaitables)."""
    return mesh_stub(meshtest_pb2_grpc.MeshTestServiceStub, channel)


async def start_server(
    nc: NATS,
    servicer: object | None = None,
    *,
    region: str = REGION,
    instance_id: str = "meshtest-1",
    **options: Any,
) -> MeshServer:
    server = MeshServer(
        nc, region=region, name="meshtest", version="1.2.3", instance_id=instance_id, **options
    )
    server.add_servicer(servicer if servicer is not None else ScriptedServicer(), DESCRIPTOR)
    await server.start()
    return server


@asynccontextmanager
async def serving(nc: NATS, servicer: object | None = None, **options: Any) -> AsyncIterator[MeshServer]:
    server = await start_server(nc, servicer, **options)
    try:
        yield server
    finally:
        await server.stop(1.0)


async def assert_echo_works(stub: Any, payload: bytes = b"still here") -> None:
    """The service keeps serving: a good call right after a bad one succeeds."""
    reply = await stub.Echo(meshtest_pb2.EchoRequest(payload=payload), timeout=5)
    assert reply.payload == payload


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = ""
) -> None:
    """Poll `check` until it is true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what or check}")
        await asyncio.sleep(0.02)


class CountingBucket:
    """The real bucket, counting the reads that go to the server."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.gets = 0

    async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        self.gets += 1
        return await self._kv.get(key, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)
