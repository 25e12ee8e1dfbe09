"""Connections to each server of a 3-node cluster, and buckets opened away from their leader."""

from __future__ import annotations

import nats
from nats.aio.client import Client as NATS

from ccmesh.kv import KV_STREAM_PREFIX, ReadYourWritesKV, ensure_bucket
from ccmesh.testing.topologies import Topology

REPLICAS = 3


class FollowerConnections:
    """Connections to every server of the cluster; closed after the test."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.clients: dict[str, NATS] = {}

    async def to(self, server: str) -> NATS:
        if server not in self.clients:
            url = self.topology.server(server).url
            self.clients[server] = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=3)
        return self.clients[server]

    async def bucket(self, name: str, *, history: int = 5) -> tuple[NATS, ReadYourWritesKV]:
        """The bucket `name` at R3, opened through a server that is not its stream's leader."""
        first = await self.to(self.topology.servers[0].spec.name)
        await ensure_bucket(first.jetstream(), name, history=history, replicas=REPLICAS)
        info = await first.jetstream().stream_info(f"{KV_STREAM_PREFIX}{name}")
        leader = info.cluster.leader if info.cluster is not None else None
        follower = next(s.spec.name for s in self.topology.servers if s.spec.name != leader)
        client = await self.to(follower)
        kv = await ensure_bucket(client.jetstream(), name, history=history, replicas=REPLICAS)
        return client, kv

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
