"""Deployment, Service and PodDisruptionBudget of one service."""

from __future__ import annotations

from typing import Any

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders.common import BuildSettings, DesiredObject, Owner, metadata
from ccoperator.builders.pod import pod_template


def scaling_of(cc: ContactCenter, service: str) -> Any:
    return getattr(cc.spec.services, service)


def is_switched_off(cc: ContactCenter, service: str) -> bool:
    """`replicas: 0` and no autoscaler: the region runs no such service, so none of its objects exist.

    (A Deployment kept at zero would still leave its Service, ConfigMap and budget behind, and a
    policy opening ports to pods that do not exist.)
    """
    scaling = scaling_of(cc, service)
    return scaling.autoscaling is None and scaling.replicas == 0


def deployment(
    cc: ContactCenter, owner: Owner, service: str, settings: BuildSettings, config_hash: str
) -> DesiredObject:
    scaling = scaling_of(cc, service)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels.selector_labels(owner.name, service)},
        "revisionHistoryLimit": 3,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": pod_template(
            cc, service, cc.spec.image or settings.image, config_hash, labels.auth_secret_name(owner.name)
        ),
    }
    # With an autoscaler the replica count belongs to it: setting it here would fight the HPA/KEDA.
    if scaling.autoscaling is None:
        spec["replicas"] = scaling.replicas
    return DesiredObject(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(
                owner,
                labels.object_name(owner.name, service),
                labels.service_labels(owner.name, cc.spec.region, service),
            ),
            "spec": spec,
        }
    )


def service_object(cc: ContactCenter, owner: Owner, service: str) -> DesiredObject:
    ports: list[dict[str, Any]] = [
        {
            "name": "grpc",
            "port": labels.GRPC_PORT,
            "targetPort": "grpc",
            "protocol": "TCP",
            "appProtocol": "grpc",
        }
    ]
    if service == "gateway":
        ports.append(
            {"name": "http", "port": labels.GATEWAY_HTTP_PORT, "targetPort": "http", "protocol": "TCP"}
        )
    return DesiredObject(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(
                owner,
                labels.object_name(owner.name, service),
                labels.service_labels(owner.name, cc.spec.region, service),
            ),
            "spec": {
                "type": "ClusterIP",
                "selector": labels.selector_labels(owner.name, service),
                "ports": ports,
            },
        }
    )


def disruption_budget(cc: ContactCenter, owner: Owner, service: str) -> DesiredObject:
    # maxUnavailable rather than minAvailable: a one-replica service must not block node drains.
    return DesiredObject(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(
                owner,
                labels.object_name(owner.name, service),
                labels.service_labels(owner.name, cc.spec.region, service),
            ),
            "spec": {
                "maxUnavailable": 1,
                "selector": {"matchLabels": labels.selector_labels(owner.name, service)},
            },
        }
    )
