"""The chart's PodMonitor (toggle) scrapes exactly the service pods the operator runs, on the
port where each serves /metrics; off by default (it needs the Prometheus Operator's CRDs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders import BuildSettings, Owner, build_desired

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "routing", "gateway", "ai", "integration")


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    files = Chart.load(REPO / "charts" / "contactcenter").render(values, name="cc", namespace="platform")
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


def operator_objects() -> dict[str, dict[str, Any]]:
    cc = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": {"region": "eu"},
        }
    )
    owner = Owner(name="eu", namespace="platform", uid="0b7c9a52-7d1e-4a39-9c1e-5b0f7f0c2a11")
    settings = BuildSettings(image="ghcr.io/contactcenter/platform:1", nats_url="nats://nats:4222")
    return {o.key: o.manifest for o in build_desired(cc, owner, settings)}


def test_no_pod_monitor_unless_asked() -> None:
    assert not [d for d in render({}) if d["kind"] == "PodMonitor"]


def test_the_pod_monitor_selects_every_service_pod_on_its_metrics_port() -> None:
    (monitor,) = [
        d
        for d in render({"podMonitor": {"create": True, "labels": {"release": "kube-prometheus"}}})
        if d["kind"] == "PodMonitor"
    ]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    objects = operator_objects()
    for service in SERVICES:
        pod = objects[f"Deployment/eu-{service}"]["spec"]["template"]
        assert selector.items() <= pod["metadata"]["labels"].items(), (service, pod["metadata"]["labels"])
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports[endpoint["port"]] == labels.METRICS_PORT
        config = objects[f"ConfigMap/{labels.config_map_name('eu', service)}"]["data"]
        assert config["OTEL_EXPORTER_PROMETHEUS_PORT"] == str(labels.METRICS_PORT)
        assert config["OTEL_EXPORTER_PROMETHEUS_HOST"] == "0.0.0.0"


def test_the_isolation_policy_lets_the_scraper_reach_the_metrics_port() -> None:
    objects = operator_objects()
    policy = objects[f"NetworkPolicy/{labels.isolation_policy_name('eu')}"]
    open_ports = [
        p["port"] for rule in policy["spec"]["ingress"] if "from" not in rule for p in rule["ports"]
    ]
    assert open_ports == [labels.METRICS_PORT]
