"""Every manifest the operator would create passes `kubernetes-validate --strict` and keeps residency."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from ccmesh.configplane.models import ContactCenter
from ccoperator.builders import BuildSettings, DesiredObject, Owner, build_desired
from ccoperator.builders.config_objects import service_environment

KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
OWNER = Owner(name="eu", namespace="regions", uid="0b7c9a52-7d1e-4a39-9c1e-5b0f7f0c2a11")

SPECS: dict[str, dict[str, Any]] = {
    "fixed": {"region": "eu", "services": {"routing": {"replicas": 3}}},
    "hpa": {"region": "eu", "services": {"gateway": {"autoscaling": {"mode": "hpa", "maxReplicas": 8}}}},
    "keda": {
        "region": "eu",
        "nodeRegions": ["eu-west-1", "eu-central-1"],
        "services": {
            "routing": {"autoscaling": {"mode": "keda"}},
            "ai": {"autoscaling": {"mode": "keda"}},
            "identity": {"autoscaling": {"mode": "keda"}},
        },
    },
}


def cc(spec: dict[str, Any]) -> ContactCenter:
    return ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": spec,
        }
    )


def build(name: str, keda: bool = True, otel: str = "http://otel:4317") -> list[DesiredObject]:
    settings = BuildSettings(
        image="ghcr.io/contactcenter/platform:1",
        nats_url="nats://nats-eu:4222",
        otel_endpoint=otel,
        keda_available=keda,
        new_auth_secret="s3cret",
    )
    return build_desired(cc(SPECS[name]), OWNER, settings)


def by_key(objects: list[DesiredObject]) -> dict[str, dict[str, Any]]:
    return {o.key: o.manifest for o in objects}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_builtin_manifest_validates_strictly(spec: str, version: str) -> None:
    checked = 0
    for desired in build(spec):
        if desired.kind == "ScaledObject":
            continue  # a KEDA custom resource: checked below against its known shape
        kubernetes_validate.validate(desired.manifest, version, strict=True)
        checked += 1
    assert checked >= 23


def test_deployments_are_pinned_to_the_region_spread_and_hardened() -> None:
    objects = by_key(build("keda"))
    for service in ("identity", "routing", "gateway", "ai", "integration"):
        pod = objects[f"Deployment/eu-{service}"]["spec"]["template"]["spec"]
        term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        expression = term["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expression["key"] == "topology.kubernetes.io/region"
        assert expression["values"] == ["eu-west-1", "eu-central-1"]
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
        container = pod["containers"][0]
        assert container["args"] == [service]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False


def test_every_object_is_owned_by_the_contactcenter() -> None:
    for desired in build("fixed"):
        reference = desired.manifest["metadata"]["ownerReferences"][0]
        assert reference["uid"] == OWNER.uid and reference["controller"] is True, desired.key


def test_fixed_replicas_are_set_and_autoscaled_ones_are_left_to_the_autoscaler() -> None:
    fixed = by_key(build("fixed"))
    assert fixed["Deployment/eu-routing"]["spec"]["replicas"] == 3
    hpa = by_key(build("hpa"))
    assert "replicas" not in hpa["Deployment/eu-gateway"]["spec"]
    assert hpa["HorizontalPodAutoscaler/eu-gateway"]["spec"]["maxReplicas"] == 8


def test_keda_scales_routing_and_ai_on_jetstream_lag_and_others_fall_back_to_hpa() -> None:
    objects = by_key(build("keda"))
    for service in ("routing", "ai"):
        trigger = objects[f"ScaledObject/eu-{service}"]["spec"]["triggers"][0]
        assert trigger["type"] == "nats-jetstream"
        assert trigger["metadata"]["stream"] == "events-eu"
        assert trigger["metadata"]["natsServerMonitoringEndpoint"] == "nats-eu:8222"
    assert "ScaledObject/eu-identity" not in objects
    assert "HorizontalPodAutoscaler/eu-identity" in objects


def test_without_keda_crds_everything_uses_hpa_with_a_note() -> None:
    objects = build("keda", keda=False)
    assert not [o for o in objects if o.kind == "ScaledObject"]
    notes = [n for o in objects for n in o.notes]
    assert any("routing" in n and "not installed" in n for n in notes)


def test_network_policy_allows_only_this_regions_nats_and_dns() -> None:
    policy = by_key(build("fixed", otel=""))["NetworkPolicy/eu-isolation"]["spec"]
    nats_rule = policy["egress"][0]
    assert nats_rule["to"][0]["podSelector"]["matchLabels"]["contactcenter.dev/region"] == "eu"
    assert nats_rule["ports"] == [{"protocol": "TCP", "port": 4222}]
    assert len(policy["egress"]) == 2  # NATS and DNS, nothing else
    gateway = by_key(build("fixed"))["NetworkPolicy/eu-gateway-ingress"]["spec"]
    assert gateway["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "gateway"


def test_config_change_rolls_the_pods_through_the_template_hash() -> None:
    with_otel = by_key(build("fixed"))["Deployment/eu-ai"]["spec"]["template"]["metadata"]["annotations"]
    without = by_key(build("fixed", otel=""))["Deployment/eu-ai"]["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert with_otel != without


def test_auth_secret_is_create_only() -> None:
    secret = next(o for o in build("fixed") if o.kind == "Secret")
    assert secret.create_only and secret.manifest["stringData"]["CC_AUTH_SECRET"] == "s3cret"


def test_services_get_the_trace_sampler_the_operator_was_given() -> None:
    settings = BuildSettings(
        image="ghcr.io/contactcenter/platform:1",
        nats_url="nats://nats-eu:4222",
        traces_sampler="parentbased_traceidratio",
        traces_sampler_arg="0.01",
    )
    env = service_environment(cc(SPECS["fixed"]), "routing", settings)
    assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == (
        "parentbased_traceidratio",
        "0.01",
    )
    unset = service_environment(
        cc(SPECS["fixed"]), "routing", BuildSettings(image="i", nats_url="nats://nats-eu:4222")
    )
    assert "OTEL_TRACES_SAMPLER" not in unset and "OTEL_TRACES_SAMPLER_ARG" not in unset
