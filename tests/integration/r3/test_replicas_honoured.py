"""Every stream, bucket and object store ends at the configured replicas, whoever created it first.

A store made earlier with one replica (by the CLI applying configuration, or a process configured
without replicas) is raised when a process asks for three; a process asking for fewer never
lowers it.
"""

from __future__ import annotations

from ccmesh import naming
from ccmesh.kv import KV_STREAM_PREFIX, ensure_bucket
from ccmesh.retention import DEFAULT_POLICY, GLOBAL_STORES, STORES
from ccmesh.stores import ensure_region_stores, stream_name

from ._cluster import REPLICAS, FollowerConnections


async def test_a_bucket_made_with_one_replica_is_raised_and_never_lowered(
    followers: FollowerConnections,
) -> None:
    client = await followers.to(followers.topology.servers[0].spec.name)
    js = client.jetstream()
    await ensure_bucket(js, "raised", replicas=1)
    await (await ensure_bucket(js, "raised", replicas=1)).put("k", b"kept")

    raised = await ensure_bucket(js, "raised", replicas=REPLICAS)
    assert raised.replicas == REPLICAS and raised.reads_from_leader
    again = await ensure_bucket(js, "raised", replicas=1)
    assert again.replicas == REPLICAS
    assert (await again.get("k")).value == b"kept"


async def test_every_store_of_a_region_made_with_one_replica_is_raised(
    followers: FollowerConnections,
) -> None:
    client = await followers.to(followers.topology.servers[0].spec.name)
    js = client.jetstream()
    await ensure_region_stores(js, "us", DEFAULT_POLICY, replicas=1)
    await ensure_region_stores(js, "us", DEFAULT_POLICY, replicas=REPLICAS)

    names = {stream_name(store, "us") for store in (*STORES, *GLOBAL_STORES)}
    assert f"{KV_STREAM_PREFIX}{naming.ai_bucket('us')}" in names
    for name in sorted(names):
        info = await js.stream_info(name)
        assert info.config.num_replicas == REPLICAS, name
