"""The real operator (every kopf handler) against kmock, an in-memory Kubernetes API.

kmock runs no controllers: the tests play the Deployment controller with `simulate_ready`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kmock
import kopf
import pytest

from ccoperator.config import Config
from ccoperator.kube.client import KubeClient
from ccoperator.runtime import Runtime
from ccoperator.testing.kmock_cluster import (
    CR_RESOURCE,
    ApiServerEmulator,
    RecordingDataPlane,
    api,
    contactcenter,
    contactcenter_status,
    declare_resources,
    eventually,
    running_operator,
    simulate_ready,
    stored_object,
)
from ccoperator.testing.kmock_cluster import condition as condition_of

NS = "regions"
CR_PATH = f"/apis/contactcenter.dev/v1alpha1/namespaces/{NS}/contactcenters"
SERVICES = ("identity", "routing", "gateway", "ai", "integration")


def eu_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "region": "eu",
        "knownRegions": ["eu", "us"],
        "nodeRegions": ["eu-west-1"],
        "tenants": [{"id": "acme", "residency": {"pseudonymousRegions": ["us"]}}],
        "services": {"routing": {"replicas": 2}},
    }
    spec.update(overrides)
    return spec


async def start_cluster(keda: bool) -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as cluster, kmock.Server(cluster):
        declare_resources(cluster, keda=keda)
        yield cluster


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[ApiServerEmulator]:
    async for c in start_cluster(keda=getattr(request, "param", False)):
        yield c


@pytest.fixture
async def dataplane() -> RecordingDataPlane:
    return RecordingDataPlane()


@pytest.fixture
async def operator(cluster: ApiServerEmulator, dataplane: RecordingDataPlane) -> AsyncIterator[Runtime]:
    config = Config(kube_api_url=str(cluster.url), resync_seconds=0.3, manage_nats=False)
    runtime = Runtime(
        config=config, kube=KubeClient(kopf.ConnectionInfo(server=str(cluster.url))), dataplane=dataplane
    )
    async with running_operator(runtime):
        yield runtime


def obj(cluster: ApiServerEmulator, resource: str, name: str) -> dict[str, Any] | None:
    return stored_object(cluster, resource, NS, name)


def status(cluster: ApiServerEmulator, name: str = "eu") -> dict[str, Any]:
    return contactcenter_status(cluster, NS, name)


def condition(cluster: ApiServerEmulator, kind: str, name: str = "eu") -> dict[str, Any]:
    return condition_of(cluster, NS, name, kind)


def events(cluster: ApiServerEmulator, reason: str) -> list[dict[str, Any]]:
    return [
        dict(o.raw)
        for (resource, _, _), o in cluster.objects.items()
        if str(resource) == str(kmock.resource("v1/events")) and not o.deleted and o.get("reason") == reason
    ]


async def create(cluster: ApiServerEmulator, spec: dict[str, Any], name: str = "eu") -> None:
    code, body = await api(cluster, "POST", CR_PATH, contactcenter(name, NS, spec))
    assert code in (200, 201), body


async def test_create_makes_every_object_pinned_to_its_region(
    cluster: ApiServerEmulator, operator: Runtime, dataplane: RecordingDataPlane
) -> None:
    await create(cluster, eu_spec())
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    for service in SERVICES:
        deployment = obj(cluster, "apps/v1/deployments", f"eu-{service}")
        assert deployment is not None, service
        pod = deployment["spec"]["template"]["spec"]
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        expression = terms["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expression == {
            "key": "topology.kubernetes.io/region",
            "operator": "In",
            "values": ["eu-west-1"],
        }
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
        assert (
            deployment["metadata"]["ownerReferences"][0]["uid"]
            == obj(cluster, CR_RESOURCE, "eu")["metadata"]["uid"]
        )
        assert obj(cluster, "v1/services", f"eu-{service}") is not None
        assert obj(cluster, "policy/v1/poddisruptionbudgets", f"eu-{service}") is not None
        assert obj(cluster, "v1/configmaps", f"eu-{service}-config")["data"]["CC_REGION"] == "eu"
    assert obj(cluster, "apps/v1/deployments", "eu-routing")["spec"]["replicas"] == 2
    assert obj(cluster, "v1/secrets", "eu-auth") is not None
    assert obj(cluster, "networking.k8s.io/v1/networkpolicies", "eu-isolation") is not None
    assert status(cluster)["nats"]["placementTag"] == "region:eu"
    assert ("eu", "nats://nats:4222") in dataplane.ensured
    assert condition(cluster, "Ready")["status"] == "False"

    await simulate_ready(cluster, NS)
    await eventually(lambda: condition(cluster, "Ready").get("status") == "True")
    assert status(cluster)["servicesReady"] == "5/5"
    assert status(cluster)["services"]["routing"] == {"ready": 2, "desired": 2}


async def test_changed_replicas_are_patched(cluster: ApiServerEmulator, operator: Runtime) -> None:
    await create(cluster, eu_spec())
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    code, _ = await api(
        cluster, "PATCH", f"{CR_PATH}/eu", {"spec": {"services": {"routing": {"replicas": 4}}}}
    )
    assert code == 200
    await eventually(lambda: obj(cluster, "apps/v1/deployments", "eu-routing")["spec"]["replicas"] == 4)
    await eventually(lambda: status(cluster).get("observedGeneration") == 2)
    assert "repairs" not in status(cluster)  # a spec change is not a repair


async def test_deleted_deployment_is_recreated_and_status_shows_the_repair(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(cluster, eu_spec())
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)
    await simulate_ready(cluster, NS)
    await eventually(lambda: condition(cluster, "Ready").get("status") == "True")

    code, _ = await api(cluster, "DELETE", f"/apis/apps/v1/namespaces/{NS}/deployments/eu-routing")
    assert code == 200
    await eventually(lambda: obj(cluster, "apps/v1/deployments", "eu-routing") is not None)
    await eventually(lambda: status(cluster).get("repairs", {}).get("count", 0) >= 1)
    assert "Deployment/eu-routing" in status(cluster)["repairs"]["last"]
    # The recreated Deployment has no ready pods yet, and the status says so.
    assert condition(cluster, "Ready")["status"] == "False"
    # kopf posts Events from a background queue, after the status patch.
    await eventually(lambda: events(cluster, "Repaired"))


async def test_hand_edited_deployment_is_restored(cluster: ApiServerEmulator, operator: Runtime) -> None:
    await create(cluster, eu_spec())
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    await api(cluster, "PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/eu-ai", {"spec": {"replicas": 7}})
    await eventually(lambda: obj(cluster, "apps/v1/deployments", "eu-ai")["spec"]["replicas"] == 1)
    await eventually(lambda: "Deployment/eu-ai" in status(cluster).get("repairs", {}).get("last", []))


async def test_invalid_new_resource_creates_nothing_and_says_why(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(cluster, eu_spec(services={"routing": {"replicas": "three"}}))
    await eventually(lambda: condition(cluster, "Degraded").get("status") == "True")

    degraded = condition(cluster, "Degraded")
    assert degraded["reason"] == "InvalidSpec"
    assert "spec.services.routing.replicas" in degraded["message"]
    assert obj(cluster, "apps/v1/deployments", "eu-routing") is None
    warnings = await eventually(lambda: events(cluster, "InvalidSpec"))
    assert "spec.services.routing.replicas" in warnings[0]["message"]


async def test_invalid_update_changes_no_object(cluster: ApiServerEmulator, operator: Runtime) -> None:
    await create(cluster, eu_spec())
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)
    before = {s: obj(cluster, "apps/v1/deployments", f"eu-{s}") for s in SERVICES}

    bad_residency = {
        "tenants": [{"id": "acme", "residency": {"personalDataRegions": ["mars"]}}],
        "services": {"routing": {"replicas": 5}},
    }
    await api(cluster, "PATCH", f"{CR_PATH}/eu", {"spec": bad_residency})
    await eventually(lambda: condition(cluster, "Degraded").get("reason") == "InvalidSpec")

    assert "personalDataRegions" in condition(cluster, "Degraded")["message"]
    assert status(cluster)["observedGeneration"] == 1
    after = {s: obj(cluster, "apps/v1/deployments", f"eu-{s}") for s in SERVICES}
    assert after == before
    await eventually(lambda: events(cluster, "InvalidSpec"))


async def test_without_keda_autoscaling_falls_back_to_hpa_and_says_so(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(cluster, eu_spec(services={"routing": {"autoscaling": {"mode": "keda", "maxReplicas": 9}}}))
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    hpa = obj(cluster, "autoscaling/v2/horizontalpodautoscalers", "eu-routing")
    assert hpa is not None and hpa["spec"]["maxReplicas"] == 9
    assert "replicas" not in obj(cluster, "apps/v1/deployments", "eu-routing")["spec"]
    assert any("KEDA" in note for note in status(cluster)["notes"])


@pytest.mark.parametrize("cluster", [True], indirect=True)
async def test_with_keda_routing_scales_on_jetstream_lag(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(
        cluster, eu_spec(services={"routing": {"autoscaling": {"mode": "keda", "lagThreshold": 50}}})
    )
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    scaled = obj(cluster, "keda.sh/v1alpha1/scaledobjects", "eu-routing")
    assert scaled is not None
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"]["stream"] == "events-eu"
    assert trigger["metadata"]["lagThreshold"] == "50"
    assert obj(cluster, "autoscaling/v2/horizontalpodautoscalers", "eu-routing") is None


@pytest.mark.parametrize(("policy", "expected"), [("Delete", ["eu"]), ("Retain", [])])
async def test_deletion_policy_decides_the_fate_of_region_data(
    cluster: ApiServerEmulator,
    operator: Runtime,
    dataplane: RecordingDataPlane,
    policy: str,
    expected: list[str],
) -> None:
    await create(cluster, eu_spec(deletionPolicy=policy))
    await eventually(lambda: status(cluster).get("observedGeneration") == 1)

    await api(cluster, "DELETE", f"{CR_PATH}/eu")
    await eventually(lambda: obj(cluster, CR_RESOURCE, "eu") is None)
    assert dataplane.deleted == expected


HPA = "autoscaling/v2/horizontalpodautoscalers"
SCALED_OBJECT = "keda.sh/v1alpha1/scaledobjects"


def routing_autoscaling(mode: str) -> dict[str, Any]:
    return {"routing": {"autoscaling": {"mode": mode, "maxReplicas": 6}}}


@pytest.mark.parametrize("cluster", [True], indirect=True)
async def test_switch_from_hpa_to_keda_removes_the_hpa_and_says_so(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(cluster, eu_spec(services=routing_autoscaling("hpa")))
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is not None)
    assert obj(cluster, SCALED_OBJECT, "eu-routing") is None

    code, _ = await api(
        cluster, "PATCH", f"{CR_PATH}/eu", {"spec": {"services": routing_autoscaling("keda")}}
    )
    assert code == 200
    await eventually(lambda: obj(cluster, SCALED_OBJECT, "eu-routing") is not None)
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is None)
    pruned = await eventually(lambda: events(cluster, "Pruned"))
    assert "HorizontalPodAutoscaler/eu-routing" in pruned[0]["message"]
    await eventually(lambda: status(cluster).get("observedGeneration") == 2)
    assert "repairs" not in status(cluster)  # a spec change is not a repair


async def test_autoscaling_off_removes_the_autoscaler(cluster: ApiServerEmulator, operator: Runtime) -> None:
    await create(cluster, eu_spec(services=routing_autoscaling("hpa")))
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is not None)

    code, _ = await api(
        cluster, "PATCH", f"{CR_PATH}/eu", {"spec": {"services": {"routing": {"autoscaling": None}}}}
    )
    assert code == 200
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is None)
    pruned = await eventually(lambda: events(cluster, "Pruned"))
    assert "HorizontalPodAutoscaler/eu-routing" in pruned[0]["message"]
    # Gone for good: the next passes do not recreate it.
    await eventually(lambda: status(cluster).get("observedGeneration") == 2)
    await simulate_ready(cluster, NS)
    await eventually(lambda: condition(cluster, "Ready").get("status") == "True")
    assert obj(cluster, HPA, "eu-routing") is None


async def test_autoscalers_the_operator_does_not_own_are_left_alone(
    cluster: ApiServerEmulator, operator: Runtime
) -> None:
    await create(cluster, eu_spec(services=routing_autoscaling("hpa")))
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is not None)
    owned = obj(cluster, HPA, "eu-routing")
    assert owned is not None
    hpa_path = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}, "maxReplicas": 3}
    # Someone else's HPA; one that copies our labels but has no owner reference; one owned by
    # another ContactCenter's uid with our labels.
    foreign = [
        {"name": "unrelated", "labels": {"app": "billing"}},
        {"name": "eu-lookalike", "labels": owned["metadata"]["labels"]},
        {
            "name": "eu-other-owner",
            "labels": owned["metadata"]["labels"],
            "ownerReferences": [{**owned["metadata"]["ownerReferences"][0], "uid": "not-this-one"}],
        },
    ]
    for meta in foreign:
        manifest = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"namespace": NS, **meta},
            "spec": spec,
        }
        code, _ = await api(cluster, "POST", hpa_path, manifest)
        assert code in (200, 201)

    await api(cluster, "PATCH", f"{CR_PATH}/eu", {"spec": {"services": {"routing": {"autoscaling": None}}}})
    await eventually(lambda: obj(cluster, HPA, "eu-routing") is None)
    await eventually(lambda: status(cluster).get("observedGeneration") == 2)
    await eventually(lambda: events(cluster, "Pruned"))
    for meta in foreign:
        assert obj(cluster, HPA, meta["name"]) is not None, meta["name"]
    assert all(
        "eu-routing" in e["message"] and "lookalike" not in e["message"] for e in events(cluster, "Pruned")
    )


async def test_readiness_arrives_through_deployment_events_without_waiting_for_the_resync(
    cluster: ApiServerEmulator, dataplane: RecordingDataPlane
) -> None:
    # A resync far beyond the test's patience: only Deployment events (and the passes they queue,
    # which skip themselves when a running pass already saw the change) can make it Ready.
    config = Config(kube_api_url=str(cluster.url), resync_seconds=3600, manage_nats=False)
    runtime = Runtime(
        config=config, kube=KubeClient(kopf.ConnectionInfo(server=str(cluster.url))), dataplane=dataplane
    )
    async with running_operator(runtime):
        for name in ("eu", "us", "ap"):
            await create(cluster, eu_spec(region="eu"), name=name)
        for name in ("eu", "us", "ap"):
            await eventually(lambda n=name: status(cluster, n).get("observedGeneration") == 1)
        await simulate_ready(cluster, NS)
        for name in ("eu", "us", "ap"):
            await eventually(lambda n=name: condition(cluster, "Ready", n).get("status") == "True")
