"""Fixtures of the R3 tier: one real 3-node JetStream cluster shared by a test module.

`r3_cluster` starts three nats-servers routed into one cluster (the production setting: every
stream and bucket at three replicas). It is shared by the tests of a module because they use
buckets of their own names; `followers.bucket(name)` opens a bucket at R3 over a connection to a server
that is NOT its stream's leader, where a read served by a replica still applying the last write
would return an older revision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ccmesh.testing.topologies import Topology, three_node_cluster

from ._cluster import FollowerConnections


@pytest.fixture(scope="module")
def r3_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topology = three_node_cluster(Path(tmp_path_factory.mktemp("r3")) / "cluster")
    try:
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
async def followers(r3_cluster: Topology) -> AsyncIterator[FollowerConnections]:
    connections = FollowerConnections(r3_cluster)
    try:
        yield connections
    finally:
        await connections.close()
