"""The region's mesh in status: the real operator on kmock, the real data plane on real nats-servers.

The `NatsHealthy` condition says whether the region's NATS is reachable, has JetStream, and holds
every stream and bucket of the region on servers tagged `region:<name>` at the configured replicas;
when not, its reason and message say which of those failed and where.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kmock
import kopf
import nats
import pytest
from nats.js import api

from ccmesh.natsserver import find_binary, free_port
from ccmesh.testing.topologies import SuperclusterTopology, Topology, single_server
from ccoperator import nats_health
from ccoperator.config import Config
from ccoperator.dataplane import NatsDataPlane
from ccoperator.kube.client import KubeClient
from ccoperator.nats_placement import region_stream_names
from ccoperator.runtime import Runtime
from ccoperator.testing.kmock_cluster import (
    ApiServerEmulator,
    condition,
    contactcenter,
    contactcenter_status,
    declare_resources,
    eventually,
    running_operator,
)
from ccoperator.testing.kmock_cluster import (
    api as kube_api,
)

NS = "regions"
CR_PATH = f"/apis/contactcenter.dev/v1alpha1/namespaces/{NS}/contactcenters"


@pytest.fixture
async def cluster() -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as emulator, kmock.Server(emulator):
        declare_resources(emulator)
        yield emulator


@pytest.fixture
def eu_server(tmp_path: Path) -> Iterator[Topology]:
    topology = single_server(tmp_path / "eu", name="eu-n1", tags=["region:eu"])
    try:
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
def server_without_jetstream(tmp_path: Path) -> Iterator[str]:
    """A plain nats-server: clients connect, JetStream requests find nobody."""
    port = free_port()
    process = subprocess.Popen(
        [find_binary(), "-a", "127.0.0.1", "-p", str(port), "-n", "no-js"],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "no-js.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("nats-server without JetStream did not start") from None
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def run_region(cluster: ApiServerEmulator, nats_url: str) -> Runtime:
    config = Config(kube_api_url=str(cluster.url), resync_seconds=0.3, nats_url=nats_url)
    return Runtime(
        config=config,
        kube=KubeClient(kopf.ConnectionInfo(server=str(cluster.url))),
        dataplane=NatsDataPlane(timeout_seconds=5),
    )


async def create(cluster: ApiServerEmulator, spec: dict[str, Any]) -> None:
    code, body = await kube_api(cluster, "POST", CR_PATH, contactcenter("eu", NS, spec))
    assert code in (200, 201), body


def mesh(cluster: ApiServerEmulator) -> dict[str, Any]:
    return condition(cluster, NS, "eu", nats_health.CONDITION)


EU_SPEC: dict[str, Any] = {"region": "eu", "knownRegions": ["eu", "us"]}


async def test_healthy_mesh_is_reported_with_every_stream_on_the_region_servers(
    cluster: ApiServerEmulator, eu_server: Topology
) -> None:
    runtime = await run_region(cluster, eu_server.urls[0])
    async with running_operator(runtime):
        await create(cluster, EU_SPEC)
        healthy = await eventually(lambda: mesh(cluster).get("status") == "True" and mesh(cluster))

    assert healthy["reason"] == nats_health.HEALTHY
    assert "region:eu" in healthy["message"]
    streams = contactcenter_status(cluster, NS, "eu")["nats"]["streams"]
    assert {s["name"] for s in streams} == set(region_stream_names("eu"))
    for stream in streams:
        assert stream["tags"] == ["region:eu"], stream
        assert stream["servers"] == ["eu-n1"], stream
        assert stream["replicas"] == 1, stream


async def test_more_replicas_than_region_servers_says_placement_failed(
    cluster: ApiServerEmulator, eu_server: Topology
) -> None:
    spec = {**EU_SPEC, "nats": {"streamReplicas": 3}}
    runtime = await run_region(cluster, eu_server.urls[0])
    async with running_operator(runtime):
        await create(cluster, spec)
        failed = await eventually(lambda: mesh(cluster).get("status") == "False" and mesh(cluster))

    assert failed["reason"] == nats_health.PLACEMENT_FAILED
    assert "region:eu" in failed["message"] and "3 replicas" in failed["message"]
    assert condition(cluster, NS, "eu", "Ready")["status"] == "False"


async def test_jetstream_off_is_named_as_the_reason(
    cluster: ApiServerEmulator, server_without_jetstream: str
) -> None:
    runtime = await run_region(cluster, server_without_jetstream)
    async with running_operator(runtime):
        await create(cluster, EU_SPEC)
        failed = await eventually(lambda: mesh(cluster).get("status") == "False" and mesh(cluster))

    assert failed["reason"] == nats_health.JETSTREAM_DISABLED
    assert "JetStream is not enabled" in failed["message"]
    ready = condition(cluster, NS, "eu", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NatsUnavailable")


async def test_unreachable_nats_is_named_as_the_reason(cluster: ApiServerEmulator) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    runtime = await run_region(cluster, url)
    async with running_operator(runtime):
        await create(cluster, EU_SPEC)
        failed = await eventually(lambda: mesh(cluster).get("status") == "False" and mesh(cluster))

    assert failed["reason"] == nats_health.UNREACHABLE
    assert url in failed["message"]


async def test_a_region_stream_on_another_regions_tags_is_reported_misplaced(
    cluster: ApiServerEmulator, nats_supercluster: SuperclusterTopology
) -> None:
    # Someone created eu's event stream from the US, placed by the US tag: it lives in the US.
    client = await nats.connect(nats_supercluster.urls_of("us")[0], connect_timeout=5)
    try:
        await client.jetstream(timeout=10).add_stream(
            api.StreamConfig(
                name="events-eu",
                subjects=["ccevt.eu.>"],
                storage=api.StorageType.FILE,
                placement=api.Placement(tags=["region:us"]),
            )
        )
    finally:
        await client.drain()

    runtime = await run_region(cluster, nats_supercluster.urls_of("eu")[0])
    async with running_operator(runtime):
        await create(cluster, EU_SPEC)
        failed = await eventually(
            lambda: mesh(cluster).get("reason") == nats_health.STREAMS_MISPLACED and mesh(cluster), within=40
        )
        warnings = await eventually(lambda: events(cluster, nats_health.STREAMS_MISPLACED))

    assert failed["status"] == "False"
    assert "events-eu (tags: region:us; cluster us: us-n1)" in failed["message"]
    # Only that stream: the rest were created by the operator, on eu's servers.
    streams = {s["name"]: s for s in contactcenter_status(cluster, NS, "eu")["nats"]["streams"]}
    assert streams["events-eu"]["cluster"] == "us"
    assert all(s["cluster"] == "eu" for name, s in streams.items() if name != "events-eu")
    assert failed["message"].count("tags:") == 1
    assert warnings[0]["type"] == "Warning"
    assert warnings[0]["message"] == failed["message"]


def events(cluster: ApiServerEmulator, reason: str) -> list[dict[str, Any]]:
    return [
        dict(o.raw)
        for (resource, _, _), o in cluster.objects.items()
        if str(resource) == str(kmock.resource("v1/events")) and not o.deleted and o.get("reason") == reason
    ]
