"""NATS micro discovery ($SRV.PING|INFO|STATS) answered by a running MeshServer."""

from __future__ import annotations

from typing import Any

import grpc
import orjson
import pytest
from _mesh import REGION, SERVICE_FULL_NAME, eventually, meshtest, serving
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError

from ccmesh.rpc_client import MeshChannel
from ccmesh.status import RpcError
from contactcenter.meshtest.v1 import meshtest_pb2


async def ask(nc: NATS, subject: str) -> dict[str, Any]:
    reply = await nc.request(subject, b"", timeout=5)
    document: dict[str, Any] = orjson.loads(reply.data)
    return document


async def test_ping_info_and_stats_follow_the_micro_schema(nc: NATS) -> None:
    async with serving(nc, instance_id="disc-1") as server:
        for subject in ("$SRV.PING", "$SRV.PING.meshtest", "$SRV.PING.meshtest.disc-1"):
            ping = await ask(nc, subject)
            assert ping["type"] == "io.nats.micro.v1.ping_response"
            assert (ping["name"], ping["id"], ping["version"]) == ("meshtest", "disc-1", "1.2.3")
            assert ping["metadata"]["region"] == REGION

        info = await ask(nc, "$SRV.INFO.meshtest")
        assert info["type"] == "io.nats.micro.v1.info_response"
        [endpoint] = info["endpoints"]
        assert endpoint["subject"] == f"cc.{REGION}.meshtest.v1.*"
        assert endpoint["queue_group"] == "meshtest"
        assert endpoint["metadata"]["grpc_service"] == SERVICE_FULL_NAME
        assert endpoint["metadata"]["methods"] == "Echo,Sleep"

        stub = meshtest(MeshChannel(nc, REGION, default_timeout=5))
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"1"))
        await stub.Echo(meshtest_pb2.EchoRequest(payload=b"2"))
        with pytest.raises(RpcError) as caught:
            await stub.Echo(meshtest_pb2.EchoRequest(payload=b"rpc-error"))
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        counters = server.endpoints[0]
        await eventually(lambda: counters.num_requests == 3, what="three requests counted")

        stats = await ask(nc, "$SRV.STATS.meshtest")
        assert stats["type"] == "io.nats.micro.v1.stats_response"
        assert stats["id"] == "disc-1"
        [endpoint_stats] = stats["endpoints"]
        assert endpoint_stats["num_requests"] == 3
        assert endpoint_stats["num_errors"] == 1
        assert endpoint_stats["last_error"].startswith("NOT_FOUND")
        assert endpoint_stats["processing_time"] > 0


async def test_other_names_and_ids_are_not_answered(nc: NATS) -> None:
    async with serving(nc, instance_id="disc-2"):
        for subject in ("$SRV.PING.identity", "$SRV.INFO.meshtest.other-id"):
            with pytest.raises(NoRespondersError):
                await nc.request(subject, b"", timeout=2)


async def test_every_replica_answers_ping(nc: NATS) -> None:
    async with serving(nc, instance_id="a"), serving(nc, instance_id="b"):
        seen: set[str] = set()

        async def collect(msg: Any) -> None:
            seen.add(orjson.loads(msg.data)["id"])

        inbox = nc.new_inbox()
        await nc.subscribe(inbox, cb=collect)
        await nc.publish("$SRV.PING.meshtest", b"", reply=inbox)
        await eventually(lambda: seen == {"a", "b"}, what="both replicas answered")


async def test_discovery_stops_with_the_server(nc: NATS) -> None:
    async with serving(nc, instance_id="disc-3"):
        assert (await ask(nc, "$SRV.PING.meshtest"))["id"] == "disc-3"
    with pytest.raises(NoRespondersError):
        await nc.request("$SRV.PING.meshtest", b"", timeout=2)
