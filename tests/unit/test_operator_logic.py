"""Pure pieces of the operator: config from env, spec errors that name the field, status, drift."""

from __future__ import annotations

import pytest

from ccoperator.config import Config, ConfigError
from ccoperator.converge import contains
from ccoperator.spec import SpecError, field_path, parse_contactcenter
from ccoperator.status import Observation, ServiceReplicas, build_status, replicas_of

ALL_READY = {
    s: ServiceReplicas(ready=2, desired=2) for s in ("identity", "routing", "gateway", "ai", "integration")
}


def body(spec: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ContactCenter",
        "metadata": {
            "name": "eu",
            "namespace": "regions",
            "uid": "u",
            "generation": 3,
            "resourceVersion": "9",
        },
        "spec": spec,
    }


def test_config_reads_prefixed_variables() -> None:
    config = Config.from_env(
        {
            "CCOP_NATS_URL": "nats://n:4222",
            "CCOP_RESYNC_SECONDS": "2.5",
            "CCOP_NAMESPACES": "a, b",
            "CCOP_MANAGE_NATS": "no",
        }
    )
    assert (config.nats_url, config.resync_seconds, config.namespaces, config.manage_nats) == (
        "nats://n:4222",
        2.5,
        ("a", "b"),
        False,
    )


def test_services_sample_traces_where_they_start_unless_told_otherwise() -> None:
    default = Config.from_env({})
    assert (default.traces_sampler, default.traces_sampler_arg) == ("parentbased_traceidratio", "0.01")
    chosen = Config.from_env({"CCOP_TRACES_SAMPLER": "parentbased_always_on", "CCOP_TRACES_SAMPLER_ARG": ""})
    assert (chosen.traces_sampler, chosen.traces_sampler_arg) == ("parentbased_always_on", "")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CCOP_RESYNC_SECONDS": "soon"}, "CCOP_RESYNC_SECONDS"),
        ({"CCOP_RESYNC_SECONDS": "0"}, "CCOP_RESYNC_SECONDS"),
        ({"CCOP_NATS_URL": "http://x"}, "CCOP_NATS_URL"),
        ({"CCOP_MANAGE_NATS": "maybe"}, "CCOP_MANAGE_NATS"),
        ({"CCOP_KUBE_API_URL": "localhost"}, "CCOP_KUBE_API_URL"),
        ({"CCOP_SERVICE_IMAGE": " "}, "CCOP_SERVICE_IMAGE"),
        ({"CCOP_TRACES_SAMPLER": "sometimes"}, "CCOP_TRACES_SAMPLER"),
        ({"CCOP_TRACES_SAMPLER_ARG": "half"}, "CCOP_TRACES_SAMPLER_ARG"),
        ({"CCOP_TRACES_SAMPLER_ARG": "1.5"}, "CCOP_TRACES_SAMPLER_ARG"),
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(env)


def test_valid_body_becomes_the_config_plane_document() -> None:
    cc = parse_contactcenter(body({"region": "eu"}))
    assert (cc.metadata.name, cc.metadata.generation, cc.spec.deletion_policy) == ("eu", 3, "Retain")


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"region": "eu", "services": {"ai": {"replicas": "x"}}}, "spec.services.ai.replicas", "integer"),
        (
            {"region": "eu", "tenants": [{"id": "t", "residency": {"personalDataRegions": ["mars"]}}]},
            "spec",
            "mars",
        ),
        ({"displayName": "no region"}, "spec.region", "required"),
        (
            {"region": "eu", "tenants": [{"id": "t", "brands": [{"id": "B A D"}]}]},
            "spec.tenants[0].brands[0].id",
            "",
        ),
    ],
)
def test_spec_errors_name_the_field(spec: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_contactcenter(body(spec))
    assert caught.value.field == field
    assert words in str(caught.value)


def test_field_path_formats_indexes() -> None:
    assert field_path(("spec", "tenants", 0, "id")) == "spec.tenants[0].id"


def test_status_ready_when_every_service_is_ready() -> None:
    status = build_status(Observation(generation=4, now="t1", services=ALL_READY))
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    assert conditions["Progressing"]["status"] == "False"
    assert status["observedGeneration"] == 4 and status["servicesReady"] == "5/5"


def test_status_not_ready_names_the_waiting_services() -> None:
    services = {**ALL_READY, "ai": ServiceReplicas(ready=0, desired=2)}
    status = build_status(Observation(generation=1, now="t", services=services))
    ready = status["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "ServicesNotReady")
    assert "ai" in ready["message"] and status["servicesReady"] == "4/5"


def test_invalid_spec_is_degraded_and_keeps_the_observed_generation() -> None:
    previous = {"observedGeneration": 2, "conditions": []}
    status = build_status(Observation(generation=3, now="t", invalid_spec="spec.region: bad"), previous)
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidSpec")
    assert "spec.region" in degraded["message"]
    assert "observedGeneration" not in status  # a merge patch leaves the old value in place


def test_repairs_are_counted_and_transition_times_kept() -> None:
    first = build_status(Observation(generation=1, now="t1", services=ALL_READY))
    second = build_status(
        Observation(
            generation=1,
            now="t2",
            services=ALL_READY,
            changed=["Deployment/eu-ai"],
            repaired=["Deployment/eu-ai"],
        ),
        {**first, "repairs": {"count": 2}},
    )
    assert second["repairs"] == {"count": 3, "last": ["Deployment/eu-ai"], "time": "t2"}
    ready = next(c for c in second["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "t1"
    progressing = next(c for c in second["conditions"] if c["type"] == "Progressing")
    assert (progressing["reason"], progressing["lastTransitionTime"]) == ("Repaired", "t2")


def test_nats_failure_is_degraded() -> None:
    status = build_status(
        Observation(generation=1, now="t", services=ALL_READY, nats_error="NATS at x: refused")
    )
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "NatsUnavailable")


def test_replicas_of_reads_deployment_status() -> None:
    assert replicas_of({"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}) == ServiceReplicas(2, 3)
    assert replicas_of(None) == ServiceReplicas(0, 1)


def test_drift_ignores_server_added_fields_but_not_changed_ones() -> None:
    desired = {"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "i"}]}}}
    actual = {
        "spec": {
            "replicas": 2,
            "paused": False,
            "template": {"containers": [{"name": "a", "image": "i", "tty": False}]},
        }
    }
    assert contains(actual, desired)
    assert not contains({**actual, "spec": {**actual["spec"], "replicas": 7}}, desired)
    assert not contains({"spec": {"replicas": 2, "template": {"containers": []}}}, desired)


def _hpa(labels: dict[str, str], references: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"name": "eu-routing", "labels": labels, "ownerReferences": references}}


def test_only_objects_with_our_labels_and_owner_uid_count_as_owned() -> None:
    from ccoperator.builders import Owner
    from ccoperator.prune import owned_by

    owner = Owner(name="eu", namespace="regions", uid="u1")
    ours = {"app.kubernetes.io/managed-by": "ccoperator", "app.kubernetes.io/instance": "eu"}
    reference: dict[str, object] = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ContactCenter",
        "name": "eu",
        "uid": "u1",
        "controller": True,
    }
    assert owned_by(_hpa(ours, [reference]), owner)
    assert not owned_by(_hpa(ours, []), owner)
    assert not owned_by(_hpa(ours, [{**reference, "uid": "u2"}]), owner)
    assert not owned_by(_hpa(ours, [{**reference, "controller": False}]), owner)
    assert not owned_by(_hpa({**ours, "app.kubernetes.io/managed-by": "helm"}, [reference]), owner)
    assert not owned_by(_hpa({**ours, "app.kubernetes.io/instance": "us"}, [reference]), owner)


def test_progressing_says_what_was_pruned() -> None:
    status = build_status(
        Observation(generation=2, now="t", services=ALL_READY, pruned=["HorizontalPodAutoscaler/eu-routing"])
    )
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "True"
    assert progressing["message"] == "removed: HorizontalPodAutoscaler/eu-routing"
    both = build_status(
        Observation(
            generation=2,
            now="t",
            services=ALL_READY,
            changed=["ScaledObject/eu-routing"],
            pruned=["HorizontalPodAutoscaler/eu-routing"],
        )
    )
    message = next(c for c in both["conditions"] if c["type"] == "Progressing")["message"]
    assert message == "applied: ScaledObject/eu-routing; removed: HorizontalPodAutoscaler/eu-routing"
