"""The Helm charts render (helm-python-sdk, no binary) into valid manifests; skaffold.yaml is valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_python import Chart

from ccoperator.crd import custom_resource_definition
from ccoperator.kube.resources import KINDS
from ccoperator.prune import PRUNABLE_KINDS
from ccoperator.testing.crd_validator import validate

REPO = Path(__file__).resolve().parents[2]
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
SKAFFOLD_SCHEMA = REPO.parent / "shared/schemas/skaffold/v4beta13.json"
GEN_CRD = REPO / "tools/gen_crd.py"

EVERYTHING_ON: dict[str, Any] = {
    "contactCenter": {
        "create": True,
        "region": "latam",
        "knownRegions": ["latam", "us"],
        "deletionPolicy": "Delete",
    },
    "opentelemetryCollector": {"create": True, "otlpExporterEndpoint": "tempo:4317"},
    "ai": {"create": False, "replicas": 2},
    "routing": {"create": True, "replicas": 1, "autoscaling": {"mode": "keda", "maxReplicas": 12}},
}
VALUE_SETS = {
    "defaults": {},
    "everything": EVERYTHING_ON,
    "namespaced": {"operator": {"namespaces": "regions"}},
    "security-context-off": {"securityContext": {"enabled": False}},
}


def render(chart: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    files = Chart.load(REPO / "charts" / chart).render(values, name="cc", namespace="platform")
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_platform_chart_renders_valid_manifests(values: str, version: str) -> None:
    documents = render("contactcenter", VALUE_SETS[values])
    assert documents
    crd = custom_resource_definition()
    for document in documents:
        if document["kind"] == "ContactCenter":
            assert validate(document, crd) == []
        else:
            kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_crd_chart_renders_the_generated_crd(version: str) -> None:
    documents = render("contactcenter-crds", {})
    assert documents == [custom_resource_definition()]
    kubernetes_validate.validate(documents[0], version, strict=True)


def test_committed_crd_equals_the_generated_one() -> None:
    import runpy

    module = runpy.run_path(str(GEN_CRD))
    assert module["TARGET"].read_text() == module["render"](), "stale CRD: run python tools/gen_crd.py"


def test_rendered_contactcenter_follows_the_per_service_toggles() -> None:
    cc = next(d for d in render("contactcenter", EVERYTHING_ON) if d["kind"] == "ContactCenter")
    assert cc["spec"]["services"]["ai"]["replicas"] == 0
    assert cc["spec"]["services"]["routing"]["autoscaling"]["mode"] == "keda"
    assert cc["spec"]["region"] == "latam"


def test_operator_runs_hardened_with_least_privilege() -> None:
    documents = render("contactcenter", {})
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    role = next(d for d in documents if d["kind"] == "ClusterRole")
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert "*" not in verbs
    # Delete only on the kinds the operator prunes (PRUNABLE_KINDS), nothing else: never Secrets.
    deletable = {
        (group, resource)
        for rule in role["rules"]
        if "delete" in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    prunable = {(KINDS[kind].api_version.rpartition("/")[0], KINDS[kind].plural) for kind in PRUNABLE_KINDS}
    assert deletable == prunable
    assert "Secret" not in PRUNABLE_KINDS
    # Pruning reads by name: nothing but the watched kinds may be listed.
    listable = {
        resource for rule in role["rules"] if "list" in rule["verbs"] for resource in rule["resources"]
    }
    assert listable == {"contactcenters", "deployments", "customresourcedefinitions"}
    secrets = next(r for r in role["rules"] if "secrets" in r["resources"])
    assert set(secrets["verbs"]) == {"get", "create"}
    namespaced = render("contactcenter", {"operator": {"namespaces": "regions"}})
    assert {d["kind"] for d in namespaced} >= {"Role", "RoleBinding"}
    assert "ClusterRole" not in {d["kind"] for d in namespaced}


def test_security_context_can_be_switched_off() -> None:
    pod = next(
        d
        for d in render("contactcenter", {"securityContext": {"enabled": False}})
        if d["kind"] == "Deployment"
    )
    assert "securityContext" not in pod["spec"]["template"]["spec"]


def test_otel_toggle_and_dashboard() -> None:
    kinds_off = [d["kind"] for d in render("contactcenter", {})]
    kinds_on = [d["kind"] for d in render("contactcenter", EVERYTHING_ON)]
    assert kinds_on.count("Deployment") == kinds_off.count("Deployment") + 1
    dashboard = next(d for d in render("contactcenter", {}) if d["kind"] == "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = " ".join(
        p["title"] for p in json.loads(dashboard["data"]["contactcenter.json"])["panels"]
    ).lower()
    for metric in (
        "queue depth",
        "longest wait",
        "service level",
        "occupancy",
        "error rate",
        "ai latency",
        "webhook",
    ):
        assert metric in titles


def test_operator_hands_the_services_parent_based_ratio_sampling_by_default() -> None:
    def sampler_env(values: dict[str, Any]) -> dict[str, str]:
        operator = next(
            d
            for d in render("contactcenter", values)
            if d["kind"] == "Deployment" and "operator" in d["metadata"]["name"]
        )
        env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
        return {e["name"]: e["value"] for e in env if e["name"].startswith("CCOP_TRACES_")}

    assert sampler_env({}) == {
        "CCOP_TRACES_SAMPLER": "parentbased_traceidratio",
        "CCOP_TRACES_SAMPLER_ARG": "0.01",
    }
    assert sampler_env({"tracing": {"sampler": "parentbased_always_on", "samplerArg": ""}}) == {
        "CCOP_TRACES_SAMPLER": "parentbased_always_on",
        "CCOP_TRACES_SAMPLER_ARG": "",
    }


@pytest.fixture(scope="module")
def skaffold_validator() -> jsonschema.protocols.Validator:
    if not SKAFFOLD_SCHEMA.exists():
        pytest.skip(f"skaffold schema not found at {SKAFFOLD_SCHEMA} (the shared/ folder is absent)")
    schema = json.loads(SKAFFOLD_SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_skaffold_yaml_is_valid(skaffold_validator: jsonschema.protocols.Validator) -> None:
    document = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    assert [e.message for e in skaffold_validator.iter_errors(document)] == []
    assert len(document["build"]["artifacts"]) == 1  # one multi-entrypoint image
    assert {p["name"] for p in document["profiles"]} >= {"dev", "debug"}
    assert document["build"]["artifacts"][0]["sync"]["manual"]


def test_skaffold_schema_rejects_a_mistake(skaffold_validator: jsonschema.protocols.Validator) -> None:
    document = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    document["deploy"]["helm"]["releasez"] = []
    assert list(skaffold_validator.iter_errors(document))
