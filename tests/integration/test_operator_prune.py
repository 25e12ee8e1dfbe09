"""Switching a service off prunes its objects, against kmock, even across an operator restart."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import kmock
import kopf
import pytest

from ccoperator.config import Config
from ccoperator.kube.client import KubeClient
from ccoperator.runtime import Runtime
from ccoperator.testing.kmock_cluster import (
    ApiServerEmulator,
    RecordingDataPlane,
    api,
    condition,
    contactcenter,
    contactcenter_status,
    declare_resources,
    eventually,
    running_operator,
    simulate_ready,
    stored_object,
)

NS = "regions"
CR_PATH = f"/apis/contactcenter.dev/v1alpha1/namespaces/{NS}/contactcenters"
GATEWAY_OBJECTS = {
    "apps/v1/deployments": "eu-gateway",
    "v1/services": "eu-gateway",
    "policy/v1/poddisruptionbudgets": "eu-gateway",
    "v1/configmaps": "eu-gateway-config",
    "networking.k8s.io/v1/networkpolicies": "eu-gateway-ingress",
}
GATEWAY_KEYS = [
    "ConfigMap/eu-gateway-config",
    "Deployment/eu-gateway",
    "NetworkPolicy/eu-gateway-ingress",
    "PodDisruptionBudget/eu-gateway",
    "Service/eu-gateway",
]


@pytest.fixture
async def cluster() -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as emulator, kmock.Server(emulator):
        declare_resources(emulator)
        yield emulator


def operator_in(cluster: ApiServerEmulator) -> contextlib.AbstractAsyncContextManager[None]:
    """A fresh operator process, as far as memory goes: a new Runtime remembers nothing."""
    config = Config(kube_api_url=str(cluster.url), resync_seconds=0.3, manage_nats=False)
    runtime = Runtime(
        config=config,
        kube=KubeClient(kopf.ConnectionInfo(server=str(cluster.url))),
        dataplane=RecordingDataPlane(),
    )
    return running_operator(runtime)


def obj(cluster: ApiServerEmulator, resource: str, name: str) -> dict[str, Any] | None:
    return stored_object(cluster, resource, NS, name)


def status(cluster: ApiServerEmulator) -> dict[str, Any]:
    return contactcenter_status(cluster, NS, "eu")


def gateway_objects(cluster: ApiServerEmulator) -> list[str]:
    return [name for resource, name in GATEWAY_OBJECTS.items() if obj(cluster, resource, name) is not None]


def ready(cluster: ApiServerEmulator) -> bool:
    return condition(cluster, NS, "eu", "Ready").get("status") == "True"


async def switch_gateway(cluster: ApiServerEmulator, replicas: int) -> None:
    code, _ = await api(
        cluster, "PATCH", f"{CR_PATH}/eu", {"spec": {"services": {"gateway": {"replicas": replicas}}}}
    )
    assert code == 200


async def test_switching_a_service_off_prunes_its_objects_and_status_says_so(
    cluster: ApiServerEmulator,
) -> None:
    async with operator_in(cluster):
        code, _ = await api(cluster, "POST", CR_PATH, contactcenter("eu", NS, {"region": "eu"}))
        assert code in (200, 201)
        await eventually(lambda: len(gateway_objects(cluster)) == len(GATEWAY_OBJECTS))

        await switch_gateway(cluster, 0)
        await eventually(lambda: not gateway_objects(cluster))
        await eventually(lambda: status(cluster).get("observedGeneration") == 2)
        assert status(cluster)["pruned"]["last"] == GATEWAY_KEYS
        assert status(cluster)["services"]["gateway"] == {"ready": 0, "desired": 0}
        assert "gateway: switched off in this region (replicas 0)" in status(cluster)["notes"]
        # Everything else stays, and the region becomes Ready without the gateway.
        assert obj(cluster, "apps/v1/deployments", "eu-routing") is not None
        assert obj(cluster, "networking.k8s.io/v1/networkpolicies", "eu-integration-egress") is not None
        await simulate_ready(cluster, NS)
        await eventually(lambda: ready(cluster))
        assert status(cluster)["servicesReady"] == "4/4"
        assert not gateway_objects(cluster)  # later passes do not bring them back

        await switch_gateway(cluster, 1)
        await eventually(lambda: len(gateway_objects(cluster)) == len(GATEWAY_OBJECTS))


async def test_a_restarted_operator_prunes_what_was_switched_off_while_it_was_down(
    cluster: ApiServerEmulator,
) -> None:
    async with operator_in(cluster):
        code, _ = await api(cluster, "POST", CR_PATH, contactcenter("eu", NS, {"region": "eu"}))
        assert code in (200, 201)
        await eventually(lambda: len(gateway_objects(cluster)) == len(GATEWAY_OBJECTS))
        await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    await switch_gateway(cluster, 0)
    assert len(gateway_objects(cluster)) == len(GATEWAY_OBJECTS)  # nobody is running

    # The new operator has never seen these objects: its first pass checks every name it may use.
    async with operator_in(cluster):
        await eventually(lambda: not gateway_objects(cluster))
        await eventually(lambda: status(cluster).get("observedGeneration") == 2)
        assert status(cluster)["pruned"]["last"] == GATEWAY_KEYS


def operator_requests(cluster: ApiServerEmulator, action: str, plural: str) -> int:
    return cluster.request_counts["ccoperator", action, plural]


async def test_passes_list_nothing_and_an_unchanged_status_is_not_rewritten(
    cluster: ApiServerEmulator,
) -> None:
    # A list per pass made every pass cost O(objects in the namespace) (bench/operator).
    async with operator_in(cluster):
        code, _ = await api(cluster, "POST", CR_PATH, contactcenter("eu", NS, {"region": "eu"}))
        assert code in (200, 201)
        await eventually(lambda: status(cluster).get("observedGeneration") == 1)
        await simulate_ready(cluster, NS)
        await eventually(lambda: ready(cluster))
        writes = operator_requests(cluster, "UPDATE", "contactcenters")
        passes = operator_requests(cluster, "FETCH", "contactcenters")
        # Two more resync passes, each finding everything as it was.
        await eventually(lambda: operator_requests(cluster, "FETCH", "contactcenters") >= passes + 2)
        assert operator_requests(cluster, "UPDATE", "contactcenters") == writes
    assert not [key for key in cluster.request_counts if key[0] == "ccoperator" and key[1] == "LIST"]
