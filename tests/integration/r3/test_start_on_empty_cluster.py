"""All five services started at once on an empty 3-node cluster, configured for three replicas.

As `ccctl up` does: the region's ContactCenter is applied (the config bucket is created by the
CLI, with its default of one replica), then identity, gateway, integration, routing and ai start
together, each creating the region's streams and buckets at the same moment as the others; and
the same with nothing stored at all (the services first, the configuration later). Every
one must come up, and every stream and bucket must end at three replicas: the AI service's
bucket and the config bucket included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import _platform
import nats
import pytest
from _platform import SERVICES, Platform, eu_contact_center
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.kv import KV_STREAM_PREFIX
from ccmesh.retention import GLOBAL_STORES, STORES
from ccmesh.stores import stream_name
from ccmesh.testing.topologies import Topology, three_node_cluster

REPLICAS = 3
REGION = "eu"
#: Five services creating some twenty replicated streams at once on a busy 2-core machine: a
#: bound against hanging, wider than the single-server default.
START_SECONDS = 90.0


@pytest.fixture
def empty_cluster(tmp_path: Path) -> Iterator[Topology]:
    topology = three_node_cluster(tmp_path / "cluster")
    try:
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
async def cluster_client(empty_cluster: Topology) -> AsyncIterator[NATS]:
    client = await nats.connect(empty_cluster.urls, connect_timeout=5, max_reconnect_attempts=3)
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.parametrize("configured_first", [True, False], ids=["config-applied-first", "nothing-stored"])
async def test_every_service_starts_at_once_and_every_store_is_at_three_replicas(
    configured_first: bool,
    empty_cluster: Topology,
    cluster_client: NATS,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_platform, "START_SECONDS", START_SECONDS)
    platform = Platform(nc=cluster_client, nats_url=",".join(empty_cluster.urls), capsys=capsys)
    if configured_first:
        await platform.apply(eu_contact_center())
    try:
        await platform.start(*SERVICES, settings={name: {"stream_replicas": REPLICAS} for name in SERVICES})
        listed = await cluster_client.jetstream().streams_info()
        replicas = {str(info.config.name): int(info.config.num_replicas or 1) for info in listed}
    finally:
        await platform.stop_all()

    expected = {stream_name(store, REGION) for store in (*STORES, *GLOBAL_STORES)}
    expected |= {f"{KV_STREAM_PREFIX}{naming.ai_bucket(REGION)}", f"{KV_STREAM_PREFIX}{naming.CONFIG_BUCKET}"}
    assert expected <= set(replicas), f"missing: {sorted(expected - set(replicas))}"
    assert {name: count for name, count in replicas.items() if count != REPLICAS} == {}
