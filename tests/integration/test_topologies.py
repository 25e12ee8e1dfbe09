"""The real-server topologies behave like the deployments they stand in for.

A single server, a 3-node JetStream cluster that survives losing a member, and a
supercluster of regions where tag placement keeps a stream's bytes inside one region.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import Placement
from nats.js.errors import APIError

from ccmesh import natsserver
from ccmesh.kv import KV_STREAM_PREFIX, ensure_bucket
from ccmesh.testing.topologies import (
    SuperclusterTopology,
    Topology,
    single_server,
    supercluster,
    three_node_cluster,
)

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

#: nats-server's JSClusterNoPeersErr: "no suitable peers for placement".
NO_SUITABLE_PEERS = 10005


async def connect(urls: list[str]) -> NATS:
    # Try servers in the given order and reconnect fast: the tests kill servers on purpose.
    return await nats.connect(
        urls,
        connect_timeout=2,
        dont_randomize=True,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=50,
    )


async def eventually(attempt: Callable[[], Awaitable[T]], within: float = 20.0) -> T:
    """Retry while the cluster settles after losing a member: requests may fail or time out."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await attempt()
        except (nats.errors.Error, APIError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def reconnected_away_from(client: NATS, lost_port: int, within: float = 10.0) -> None:
    """Requests sent while the client is still switching servers can be lost: wait it out."""
    deadline = asyncio.get_running_loop().time() + within
    while not client.is_connected or client.connected_url is None or client.connected_url.port == lost_port:
        assert asyncio.get_running_loop().time() < deadline, "client never reconnected to a survivor"
        await asyncio.sleep(0.02)
    await client.flush()


def files_containing(dirs: list[Path], needle: bytes) -> list[Path]:
    return [path for root in dirs for path in root.rglob("*") if needle in read_or_empty(path)]


def read_or_empty(path: Path) -> bytes:
    # nats-server may remove or replace a file between listing and reading it.
    try:
        return path.read_bytes() if path.is_file() else b""
    except FileNotFoundError:
        return b""


def nats_server_alive(pid: int) -> bool:
    """True if `pid` is still a nats-server (a reused pid belonging to something else does not count)."""
    try:
        return b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def test_single_server_jetstream_publish_and_consume(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"])
    ack = await js.publish("orders.created", b"order-1")
    assert ack.stream == "ORDERS" and ack.seq == 1

    subscription = await js.pull_subscribe("orders.>", durable="worker")
    [message] = await subscription.fetch(1, timeout=2)
    await message.ack()
    assert (message.subject, message.data) == ("orders.created", b"order-1")


async def test_three_node_stream_has_three_peers_and_survives_losing_one(nats_cluster: Topology) -> None:
    admin = await connect(nats_cluster.urls)
    try:
        info = await admin.jetstream(timeout=2).add_stream(name="CALLS", subjects=["calls.>"], num_replicas=3)
    finally:
        await admin.close()
    assert info.cluster is not None and info.cluster.name == "c1"
    peers = {info.cluster.leader} | {peer.name for peer in info.cluster.replicas or []}
    assert peers == {"c1-n1", "c1-n2", "c1-n3"}

    # Lose a member that leads nothing: what must survive is the data and the client, and not
    # waiting out leader elections keeps this test fast. The client sits on exactly that member.
    meta_leader = nats_cluster.servers[0].monitoring("jsz")["meta_cluster"]["leader"]
    victim = next(s for s in nats_cluster.servers if s.spec.name not in {info.cluster.leader, meta_leader})
    survivors = [s.url for s in nats_cluster.servers if s is not victim]
    client = await connect([victim.url, *survivors])
    try:
        js = client.jetstream(timeout=2)
        for i in range(5):
            await js.publish("calls.started", f"call-{i}".encode())
        victim.kill()
        await reconnected_away_from(client, victim.spec.port)

        async def publish_and_read_all() -> list[bytes]:
            ack = await js.publish("calls.ended", b"after-failure", headers={"Nats-Msg-Id": "after-failure"})
            # Read through the stream leader: creating a consumer now would first have to place it
            # while the cluster may still count the dead member as a candidate peer.
            return [(await js.get_msg("CALLS", seq)).data or b"" for seq in range(1, ack.seq + 1)]

        expected = [f"call-{i}".encode() for i in range(5)] + [b"after-failure"]
        assert await eventually(publish_and_read_all, within=10) == expected
    finally:
        await client.close()


async def test_a_member_restarted_takes_its_replica_of_the_next_stream(nats_cluster: Topology) -> None:
    victim = nats_cluster.servers[2]
    victim.kill()
    await asyncio.to_thread(nats_cluster.restart, victim.spec.name)
    admin = await connect(nats_cluster.urls)
    try:
        kv = await ensure_bucket(admin.jetstream(timeout=5), "after-restart", replicas=3)
        await kv.put("contact.c1", b"queued")
        info = await admin.jetstream().stream_info(f"{KV_STREAM_PREFIX}after-restart")
    finally:
        await admin.close()
    assert info.cluster is not None
    assert {info.cluster.leader} | {peer.name for peer in info.cluster.replicas or []} == {
        "c1-n1",
        "c1-n2",
        "c1-n3",
    }


async def test_tag_placement_from_us_client_lands_only_in_eu(nats_supercluster: SuperclusterTopology) -> None:
    client = await connect(nats_supercluster.urls_of("us"))
    try:
        js = client.jetstream(timeout=3)
        info = await js.add_stream(
            name="PERSONAL_EU", subjects=["personal.eu.>"], placement=Placement(tags=["region:eu"])
        )
        assert info.cluster is not None and info.cluster.name == "eu"
        assert info.cluster.leader == "eu-n1"

        marker = f"personal-data-{uuid.uuid4().hex}".encode()
        # The stream's subjects reach us's side of the gateway a moment after its creation in eu
        # (until then: no response from stream); the id keeps a retried publish stored once.
        await eventually(
            lambda: js.publish("personal.eu.customer", marker, headers={"Nats-Msg-Id": marker.decode()}),
            within=10,
        )
    finally:
        await client.close()

    # The file store writes behind its cache: wait until the bytes reach eu's disk.
    deadline = asyncio.get_running_loop().time() + 10
    while not files_containing(nats_supercluster.store_dirs("eu"), marker):
        assert asyncio.get_running_loop().time() < deadline, "message never reached eu's store"
        await asyncio.sleep(0.1)
    assert files_containing(nats_supercluster.store_dirs("us"), marker) == []


async def test_placement_on_unknown_tag_fails_clearly(nats_supercluster: SuperclusterTopology) -> None:
    client = await connect(nats_supercluster.urls_of("us"))
    try:
        with pytest.raises(APIError) as failure:
            await client.jetstream(timeout=3).add_stream(
                name="NOWHERE", subjects=["nowhere.>"], placement=Placement(tags=["region:mars"])
            )
    finally:
        await client.close()
    assert failure.value.err_code == NO_SUITABLE_PEERS
    assert "no suitable peers" in (failure.value.description or "")


async def test_three_per_region_supercluster_places_replicas_in_one_region(
    nats_supercluster_factory: Callable[..., SuperclusterTopology],
) -> None:
    topology = nats_supercluster_factory(servers_per_region=3)
    client = await connect(topology.urls_of("eu"))
    try:
        info = await client.jetstream(timeout=3).add_stream(
            name="PERSONAL_US",
            subjects=["personal.us.>"],
            num_replicas=3,
            placement=Placement(tags=["region:us"]),
        )
    finally:
        await client.close()
    assert info.cluster is not None and info.cluster.name == "us"
    peers = {info.cluster.leader} | {peer.name for peer in info.cluster.replicas or []}
    assert peers == {"us-n1", "us-n2", "us-n3"}


def test_stop_all_leaves_no_process_behind(tmp_path: Path) -> None:
    topologies: list[Topology | SuperclusterTopology] = []
    try:
        topologies.append(single_server(tmp_path / "single"))
        topologies.append(three_node_cluster(tmp_path / "cluster"))
        topologies.append(supercluster(tmp_path / "super"))
        pids = [pid for topology in topologies for pid in topology.pids]
        assert len(pids) == 1 + 3 + 2
        assert all(nats_server_alive(pid) for pid in pids)
        # A member killed earlier (as failure tests do) must not trip stop_all up.
        topologies[1].servers[1].kill()
    finally:
        for topology in topologies:
            topology.stop_all()
    assert [pid for pid in pids if nats_server_alive(pid)] == []


def test_cluster_start_survives_losing_the_race_for_a_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process takes a port between free_port() and the server binding it.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        handed_out = iter([taken])
        real_free_port = natsserver.free_port
        monkeypatch.setattr(natsserver, "free_port", lambda: next(handed_out, None) or real_free_port())

        topology = three_node_cluster(tmp_path)
        try:
            assert next(handed_out, None) is None, "the taken port was never handed out"
            assert taken not in [s.spec.port for s in topology.servers]
            assert all(s.healthy(js_enabled_only=False) for s in topology.servers)
        finally:
            topology.stop_all()
