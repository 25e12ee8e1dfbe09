"""A read or a write of a bucket whose stream leader was just killed, on a real 3-node R3 cluster.

While the stream elects a new leader the surviving servers drop a leader-only read (nothing comes
back), so a read asked then is never answered: without asking again it waits out the client's
request timeout and fails, even when the new leader was elected long before. The handle asks
again until the stream answers, and returns the value written before the kill.
"""

from __future__ import annotations

import asyncio

from ccmesh.kv import KV_STREAM_PREFIX
from ccmesh.testing.topologies import Topology

from ._cluster import FollowerConnections


async def test_a_read_asked_while_the_leader_is_elected_returns_the_value(
    r3_cluster: Topology, followers: FollowerConnections
) -> None:
    client, kv = await followers.bucket("leaderless-read")
    await kv.put("contact.c1", b"queued")
    info = await client.jetstream().stream_info(f"{KV_STREAM_PREFIX}leaderless-read")
    assert info.cluster is not None and info.cluster.leader
    leader = r3_cluster.server(info.cluster.leader)
    leader.kill()
    try:
        entry = await kv.get("contact.c1")
        assert entry.value == b"queued"
        after = await client.jetstream().stream_info(f"{KV_STREAM_PREFIX}leaderless-read")
        assert after.cluster is not None and after.cluster.leader not in ("", leader.spec.name)
    finally:
        await asyncio.to_thread(r3_cluster.restart, leader.spec.name)


async def test_a_write_sent_while_the_leader_is_elected_is_stored_once(
    r3_cluster: Topology, followers: FollowerConnections
) -> None:
    client, kv = await followers.bucket("leaderless-write")
    first = await kv.put("contact.c1", b"queued")
    info = await client.jetstream().stream_info(f"{KV_STREAM_PREFIX}leaderless-write")
    assert info.cluster is not None and info.cluster.leader
    leader = r3_cluster.server(info.cluster.leader)
    leader.kill()
    try:
        # At once: no server takes the write until a new leader is elected. It is not lost to a
        # "no responders" answer, and it is stored once.
        revision = await kv.update("contact.c1", b"offered", last=first)
        assert revision > first
        entry = await kv.get("contact.c1")
        assert (entry.value, entry.revision) == (b"offered", revision)
        assert await kv.put("contact.c2", b"queued") > revision
    finally:
        await asyncio.to_thread(r3_cluster.restart, leader.spec.name)
