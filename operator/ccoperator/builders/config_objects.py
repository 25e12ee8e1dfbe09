"""Each service's ConfigMap (its `CC_` environment) and the region's auth Secret."""

from __future__ import annotations

import hashlib

import orjson

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders.common import BuildSettings, DesiredObject, Owner, metadata


def service_environment(cc: ContactCenter, service: str, settings: BuildSettings) -> dict[str, str]:
    region = cc.spec.region
    env = {
        "CC_REGION": region,
        "CC_NATS_URL": cc.spec.nats.url or settings.nats_url,
        "CC_GRPC_PORT": str(labels.GRPC_PORT),
        "CC_TIME_ZONE": cc.spec.time_zone,
        "OTEL_SERVICE_NAME": service,
        "OTEL_RESOURCE_ATTRIBUTES": f"cloud.region={region},service.namespace=contactcenter",
    }
    if service == "gateway":
        env["CC_HTTP_PORT"] = str(labels.GATEWAY_HTTP_PORT)
    # Prometheus scrapes every pod (a PodMonitor when the chart's toggle is on).
    env["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(labels.METRICS_PORT)
    env["OTEL_EXPORTER_PROMETHEUS_HOST"] = "0.0.0.0"  # reachable from the scraper, not only the pod
    if settings.otel_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = settings.otel_endpoint
    if settings.traces_sampler:
        env["OTEL_TRACES_SAMPLER"] = settings.traces_sampler
    if settings.traces_sampler_arg:
        env["OTEL_TRACES_SAMPLER_ARG"] = settings.traces_sampler_arg
    return env


def config_hash(environment: dict[str, str]) -> str:
    """Goes into the pod template, so a config change rolls the pods (env is read only at start)."""
    return hashlib.sha256(orjson.dumps(environment, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def config_map(cc: ContactCenter, owner: Owner, service: str, environment: dict[str, str]) -> DesiredObject:
    name = labels.config_map_name(owner.name, service)
    return DesiredObject(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(owner, name, labels.service_labels(owner.name, cc.spec.region, service)),
            "data": dict(environment),
        }
    )


def auth_secret(cc: ContactCenter, owner: Owner, settings: BuildSettings) -> DesiredObject:
    name = labels.auth_secret_name(owner.name)
    return DesiredObject(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(owner, name, labels.instance_labels(owner.name, cc.spec.region)),
            "type": "Opaque",
            "stringData": {"CC_AUTH_SECRET": settings.new_auth_secret},
        },
        create_only=True,
    )
