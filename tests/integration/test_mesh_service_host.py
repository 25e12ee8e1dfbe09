"""service_host.serve runs a whole service and stops it cleanly on the stop event."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import orjson
import pytest
from _mesh import REGION, ScriptedServicer, eventually, meshtest
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError

from ccmesh.config import MeshConfig
from ccmesh.rpc_client import MeshChannel
from ccmesh.service_host import Runtime, ServiceDefinition, ServiceParts, serve
from ccmesh.status import RpcError
from ccmesh.testing.meshtest_servicer import DESCRIPTOR, REGISTER
from contactcenter.meshtest.v1 import meshtest_pb2, meshtest_pb2_grpc


class _Probe:
    def __init__(self) -> None:
        self.runtime: Runtime[MeshConfig] | None = None
        self.stopped = False
        self.servicer = ScriptedServicer()

    async def build(self, runtime: Runtime[MeshConfig]) -> ServiceParts:
        self.runtime = runtime

        async def on_stop() -> None:
            self.stopped = True

        return ServiceParts(servicers=[(self.servicer, DESCRIPTOR, REGISTER)], on_stop=[on_stop])


def _ready_line(captured: list[str]) -> dict[str, Any] | None:
    for line in "".join(captured).splitlines():
        if line.startswith("{") and '"ready"' in line:
            document: dict[str, Any] = orjson.loads(line)
            return document
    return None


async def test_serve_runs_the_service_and_stops_on_the_event(
    nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = _Probe()
    definition = ServiceDefinition(
        name="meshtest",
        version="0.9.0",
        description="service host test",
        config_model=MeshConfig,
        build=probe.build,
    )
    config = MeshConfig(
        region=REGION,
        nats_url=nats_url,
        auth_secret="x" * 32,
        grpc_port=0,
        instance_name="host-1",
        shutdown_grace_seconds=2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(definition, config, stop))
    captured: list[str] = []
    try:

        def ready() -> bool:
            if task.done():
                task.result()  # surface a startup failure instead of waiting out the deadline
            captured.append(capsys.readouterr().out)
            return _ready_line(captured) is not None

        await eventually(ready, timeout=15, what="the ready line on stdout")
        line = _ready_line(captured)
        assert line is not None
        assert (line["ready"], line["region"]) == ("meshtest", REGION)
        assert line["grpc_port"] > 0

        stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
        reply = await stub.Echo(meshtest_pb2.EchoRequest(payload=b"hosted"))
        assert reply.payload == b"hosted"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{line['grpc_port']}") as channel:
            grpc_reply = await meshtest_pb2_grpc.MeshTestServiceStub(channel).Echo(
                meshtest_pb2.EchoRequest(payload=b"external"), timeout=5
            )
        assert grpc_reply.payload == b"external"
        ping = orjson.loads((await nc.request("$SRV.PING.meshtest", b"", timeout=5)).data)
        assert ping["id"] == "host-1"
        # The runtime handed to the bootstrap is wired to the same region and streams.
        assert probe.runtime is not None and probe.runtime.config.region == REGION
        assert (await nc.jetstream().stream_info(f"events-{REGION}")).config.name == f"events-{REGION}"
        assert not probe.stopped

        # A call in flight when the stop event fires still completes: the host drains first.
        in_flight = asyncio.create_task(stub.Sleep(meshtest_pb2.SleepRequest(milliseconds=300)))
        await asyncio.wait_for(probe.servicer.sleep_started.wait(), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)

    assert (await in_flight).completed is True

    assert task.done() and task.exception() is None
    assert probe.stopped
    with pytest.raises(NoRespondersError):
        await nc.request("$SRV.PING.meshtest", b"", timeout=2)
    with pytest.raises(RpcError) as caught:
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"after stop"))
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


async def test_serve_surfaces_a_failing_bootstrap(nats_url: str) -> None:
    async def broken(runtime: Runtime[MeshConfig]) -> ServiceParts:
        raise RuntimeError("bootstrap failed")

    definition = ServiceDefinition(
        name="broken", version="0.0.1", description="", config_model=MeshConfig, build=broken
    )
    config = MeshConfig(region=REGION, nats_url=nats_url, auth_secret="y" * 32, grpc_port=-1)
    with pytest.raises(RuntimeError, match="bootstrap failed"):
        await asyncio.wait_for(serve(definition, config, asyncio.Event()), timeout=15)


async def test_eventually_helper_fails_when_never_true() -> None:
    # The polling helper every test here leans on must be able to fail.
    with pytest.raises(AssertionError, match="never"):
        await eventually(lambda: False, timeout=0.1, what="never")
