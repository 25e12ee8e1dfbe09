"""Graceful shutdown of MeshServer: in-flight calls finish, new calls find nobody."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from _mesh import REGION, ScriptedServicer, meshtest, start_server
from nats.aio.client import Client as NATS

from ccmesh.rpc_client import MeshChannel
from ccmesh.status import RpcError
from contactcenter.meshtest.v1 import meshtest_pb2


async def test_stop_lets_the_in_flight_call_finish_then_refuses_new_ones(nc: NATS) -> None:
    servicer = ScriptedServicer()
    server = await start_server(nc, servicer)
    stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
    in_flight = asyncio.create_task(stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=500)))
    await asyncio.wait_for(servicer.sleep_started.wait(), timeout=5)
    assert not in_flight.done()

    await server.stop(5.0)

    # stop() returned only after the handler finished (its reply is on the way to us).
    assert servicer.completed_sleeps == 1
    reply = await in_flight
    assert reply.completed is True
    with pytest.raises(RpcError) as caught:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"after stop"))
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_calls_outliving_the_grace_period_are_cancelled(nc: NATS) -> None:
    servicer = ScriptedServicer()
    server = await start_server(nc, servicer)
    stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
    in_flight = asyncio.create_task(stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=3000), timeout=1))
    await asyncio.wait_for(servicer.sleep_started.wait(), timeout=5)

    await server.stop(0.05)

    with pytest.raises(RpcError) as caught:
        await in_flight
    # Cancelled by shutdown: the caller hears UNAVAILABLE at once (retryable elsewhere),
    # instead of waiting out its own deadline.
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in caught.value.message
    assert servicer.completed_sleeps == 0
