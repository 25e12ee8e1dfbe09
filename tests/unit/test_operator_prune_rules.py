"""Pruning by name: the names the builders use are the names prune checks; switched-off services."""

from __future__ import annotations

from typing import Any

import pytest

from ccmesh.configplane.models import ContactCenter
from ccoperator.builders import BuildSettings, Owner, build_desired, switched_off_services
from ccoperator.prune import PRUNABLE_KINDS, possible_objects
from ccoperator.status import Observation, ServiceReplicas, build_status

OWNER = Owner(name="eu", namespace="regions", uid="u1")
KEDA_EVERYWHERE = {
    service: {"autoscaling": {"mode": "keda"}}
    for service in ("identity", "routing", "gateway", "ai", "integration")
}


def keys(spec: dict[str, Any], keda: bool) -> set[str]:
    cc = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": spec,
        }
    )
    settings = BuildSettings(image="i", nats_url="nats://n:4222", keda_available=keda, new_auth_secret="s")
    return {d.key for d in build_desired(cc, OWNER, settings)}


@pytest.mark.parametrize("keda", [True, False])
@pytest.mark.parametrize("services", [{}, KEDA_EVERYWHERE, {"routing": {"autoscaling": {"mode": "hpa"}}}])
def test_every_object_built_but_the_secret_is_a_prune_candidate(services: dict[str, Any], keda: bool) -> None:
    # A name the builders use but prune does not know would never be pruned.
    built = keys({"region": "eu", "services": services}, keda)
    assert built - possible_objects("eu", keda) == {"Secret/eu-auth"}


def test_secrets_are_never_prunable() -> None:
    assert "Secret" not in PRUNABLE_KINDS
    assert {"Deployment", "HorizontalPodAutoscaler", "ScaledObject", "NetworkPolicy"} <= PRUNABLE_KINDS


def test_replicas_zero_without_autoscaling_switches_a_service_off() -> None:
    spec = {
        "region": "eu",
        "services": {
            "gateway": {"replicas": 0},
            # Autoscaling decides the count, so this one stays on.
            "ai": {"replicas": 0, "autoscaling": {"mode": "hpa"}},
        },
    }
    built = keys(spec, keda=False)
    assert not {k for k in built if k.endswith(("eu-gateway", "eu-gateway-config", "eu-gateway-ingress"))}
    assert {"Deployment/eu-ai", "HorizontalPodAutoscaler/eu-ai"} <= built
    assert "NetworkPolicy/eu-integration-egress" in built
    cc = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": spec,
        }
    )
    assert switched_off_services(cc) == ["gateway"]


def test_a_switched_off_service_is_not_waited_for_and_prunes_are_counted() -> None:
    services = {s: ServiceReplicas(ready=1, desired=1) for s in ("identity", "routing", "ai", "integration")}
    services["gateway"] = ServiceReplicas(ready=0, desired=0)
    pruned = ["Deployment/eu-gateway", "Service/eu-gateway"]
    status = build_status(Observation(generation=2, now="t1", services=services, pruned=pruned))
    assert status["servicesReady"] == "4/4"
    assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
    assert status["pruned"] == {"count": 2, "last": pruned, "time": "t1"}
    later = build_status(
        Observation(generation=3, now="t2", services=services, pruned=["HorizontalPodAutoscaler/eu-ai"]),
        status,
    )
    assert later["pruned"] == {"count": 3, "last": ["HorizontalPodAutoscaler/eu-ai"], "time": "t2"}
    # A pass that prunes nothing leaves the record alone (merge patch: absent keys stay).
    assert "pruned" not in build_status(Observation(generation=3, now="t3", services=services), later)
