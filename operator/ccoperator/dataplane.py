"""The region's data on NATS, behind one small interface: placement, config documents, deletion.

The reconciler depends on `RegionDataPlane`; production uses `NatsDataPlane` (one connection per NATS
URL, kept across passes), tests and the benchmark can pass a recording fake.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import nats
from nats.aio.client import Client as NATS
from nats.js.errors import APIError, ServiceUnavailableError

from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.kv import KVError
from ccoperator import configplane_writer, nats_health
from ccoperator.nats_health import MeshObserved, MeshUnhealthyError
from ccoperator.nats_placement import delete_region_data, ensure_region_placement


class RegionDataPlane(Protocol):
    async def ensure(self, cc: ContactCenter, nats_url: str) -> MeshObserved:
        """Create the region's streams/buckets, write its config; return the `status.nats` stanza
        and the verdict on the region's mesh. Raises `MeshUnhealthyError` when it cannot get that far."""
        ...

    async def delete(self, cc: ContactCenter, nats_url: str) -> list[str]: ...

    async def close(self) -> None: ...


class NatsDataPlane:
    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds
        self._clients: dict[str, NATS] = {}
        self._lock = asyncio.Lock()
        #: (region, generation) already written, so an unchanged spec is not rewritten every pass.
        self._written: dict[str, int] = {}

    async def _client(self, url: str) -> NATS:
        async with self._lock:
            client = self._clients.get(url)
            if client is None or client.is_closed:
                client = await nats.connect(
                    url, connect_timeout=self._timeout, max_reconnect_attempts=2, allow_reconnect=True
                )
                self._clients[url] = client
            return client

    async def ensure(self, cc: ContactCenter, nats_url: str) -> MeshObserved:
        try:
            client = await self._client(nats_url)
        except Exception as error:  # refused, DNS, timeout, auth: the server cannot be used at all
            raise MeshUnhealthyError(
                nats_health.UNREACHABLE, f"NATS at {nats_url}: {type(error).__name__}: {error}"
            ) from error
        js = client.jetstream(timeout=self._timeout)
        try:
            await js.account_info()
        except ServiceUnavailableError as error:
            raise MeshUnhealthyError(
                nats_health.JETSTREAM_DISABLED,
                f"NATS at {nats_url} answers but JetStream is not enabled for this account",
            ) from error
        region = cc.spec.region
        replicas = cc.spec.nats.stream_replicas
        try:
            found = await ensure_region_placement(js, region, replicas, cc.spec.retention.policy())
        except (APIError, KVError) as error:  # e.g. 10005: fewer servers tagged with the region than replicas
            raise MeshUnhealthyError(
                nats_health.PLACEMENT_FAILED,
                f"cannot place region {region}'s streams with tag {naming.placement_tag(region)} "
                f"and {replicas} replicas: {getattr(error, 'description', None) or error}",
            ) from error
        status: dict[str, Any] = {
            "placementTag": naming.placement_tag(region),
            "streams": [p.as_status() for p in found],
        }
        key = f"{cc.metadata.namespace}/{cc.metadata.name}"
        if self._written.get(key) != cc.metadata.generation:
            await configplane_writer.apply_document(js, cc)
            self._written[key] = cc.metadata.generation
        return MeshObserved(status, nats_health.judge_placement(region, replicas, found))

    async def delete(self, cc: ContactCenter, nats_url: str) -> list[str]:
        client = await self._client(nats_url)
        return await delete_region_data(client.jetstream(timeout=self._timeout), cc.spec.region)

    async def close(self) -> None:
        for client in self._clients.values():
            if not client.is_closed:
                await client.drain()
        self._clients.clear()
