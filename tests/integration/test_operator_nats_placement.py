"""The operator's stream/KV creation for a region lands only on that region's servers (real supercluster)."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

from ccmesh.configplane.models import ContactCenter
from ccmesh.testing.topologies import SuperclusterTopology
from ccoperator.dataplane import NatsDataPlane
from ccoperator.nats_placement import delete_region_data, ensure_region_placement, region_stream_names


def eu_servers(topology: SuperclusterTopology) -> set[str]:
    return {server.spec.name for server in topology.regions["eu"].servers}


def files_under(directories: list[Path], needle: str) -> list[Path]:
    return [p for d in directories for p in d.rglob("*") if needle in p.name]


async def test_eu_streams_and_buckets_land_only_on_eu_servers(
    nats_supercluster: SuperclusterTopology,
) -> None:
    # Connect through a US server: placement, not the client's location, decides where data lives.
    client = await nats.connect(nats_supercluster.urls_of("us")[0], connect_timeout=5)
    try:
        found = await ensure_region_placement(client.jetstream(timeout=10), "eu")
    finally:
        await client.drain()

    assert {p.name for p in found} == set(region_stream_names("eu"))
    for placement in found:
        assert placement.cluster == "eu", placement
        assert set(placement.servers) <= eu_servers(nats_supercluster), placement
    for stream in region_stream_names("eu"):
        assert files_under(nats_supercluster.store_dirs("eu"), stream), stream
        assert not files_under(nats_supercluster.store_dirs("us"), stream), stream


async def test_ensure_is_idempotent_and_delete_removes_everything(
    nats_supercluster: SuperclusterTopology,
) -> None:
    client = await nats.connect(nats_supercluster.urls_of("eu")[0], connect_timeout=5)
    try:
        js = client.jetstream(timeout=10)
        first = await ensure_region_placement(js, "eu")
        second = await ensure_region_placement(js, "eu")
        assert [p.name for p in first] == [p.name for p in second]
        assert sorted(await delete_region_data(js, "eu")) == sorted(region_stream_names("eu"))
        assert await delete_region_data(js, "eu") == []
    finally:
        await client.drain()


async def test_data_plane_reports_placement_for_status(nats_supercluster: SuperclusterTopology) -> None:
    cc = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu", "generation": 1},
            "spec": {
                "region": "eu",
                "knownRegions": ["eu", "us"],
                "retention": {"events": {"maxAgeSeconds": 86400}, "journeys": {"maxBytes": 1 << 30}},
            },
        }
    )
    dataplane = NatsDataPlane(timeout_seconds=10)
    try:
        observed = await dataplane.ensure(cc, nats_supercluster.urls_of("eu")[0])
    except Exception as error:  # the config-plane store is tested elsewhere; placement must still hold
        pytest.fail(f"ensure failed: {error}")
    finally:
        await dataplane.close()
    status = observed.stanza
    assert status["placementTag"] == "region:eu"
    assert all(s["cluster"] == "eu" for s in status["streams"])
    assert all(s["tags"] == ["region:eu"] for s in status["streams"])
    assert observed.health.healthy is True, observed.health
    # The region's retention is in force on the servers, and the status reads it back.
    limits = {s["name"]: (s["maxAgeSeconds"], s["maxBytes"]) for s in status["streams"]}
    assert limits["events-eu"] == (86400, -1)
    assert limits["KV_journeys-eu"] == (0, 1 << 30)
    assert limits["deadletter-eu"] == (30 * 24 * 3600, -1)
