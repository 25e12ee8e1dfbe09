"""The pod template of one service: residency (node affinity), zone spread, hardening and probes."""

from __future__ import annotations

from typing import Any

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders.common import Manifest

#: A fixed non-root uid, matching the image's user, so `runAsNonRoot` can be checked by the kubelet.
RUN_AS_USER = 10001


def node_regions(cc: ContactCenter) -> list[str]:
    return list(cc.spec.node_regions) or [cc.spec.region]


def residency_affinity(cc: ContactCenter) -> Manifest:
    # Required, not preferred: a pod scheduled outside its region would move personal data with it.
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": labels.NODE_REGION_LABEL, "operator": "In", "values": node_regions(cc)}
                        ]
                    }
                ]
            }
        }
    }


def zone_spread(selector: dict[str, str]) -> list[Manifest]:
    # ScheduleAnyway: a single-zone region must still run; the scheduler still prefers spreading.
    return [
        {
            "maxSkew": 1,
            "topologyKey": labels.NODE_ZONE_LABEL,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


def container_security() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_ports(service: str) -> list[Manifest]:
    ports = [
        {"name": "grpc", "containerPort": labels.GRPC_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": labels.METRICS_PORT, "protocol": "TCP"},
    ]
    if service == "gateway":
        ports.append({"name": "http", "containerPort": labels.GATEWAY_HTTP_PORT, "protocol": "TCP"})
    return ports


DEFAULT_RESOURCES: Manifest = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}
#: The ai service runs its pipelines in worker processes (CC_INFERENCE_WORKERS, 2 by default),
#: each holding the sentence encoder and language models (about 500 MB a worker), beside the
#: service process itself: about 1.5 GB in use once messages flow.
RESOURCES: dict[str, Manifest] = {
    "ai": {"requests": {"cpu": "500m", "memory": "1536Mi"}, "limits": {"memory": "2Gi"}},
}


def pod_template(cc: ContactCenter, service: str, image: str, config_hash: str, auth_secret: str) -> Manifest:
    name = cc.metadata.name
    selector = labels.selector_labels(name, service)
    probe: dict[str, Any] = {"grpc": {"port": labels.GRPC_PORT}}
    container: Manifest = {
        "name": service,
        "image": image,
        # One image, one entrypoint per service: the image runs `python -m <args[0]>`.
        "args": [service],
        "ports": container_ports(service),
        "envFrom": [{"configMapRef": {"name": labels.config_map_name(name, service)}}],
        "env": [
            {
                "name": "CC_AUTH_SECRET",
                "valueFrom": {"secretKeyRef": {"name": auth_secret, "key": "CC_AUTH_SECRET"}},
            }
        ],
        "resources": RESOURCES.get(service, DEFAULT_RESOURCES),
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3, "initialDelaySeconds": 10},
        "securityContext": container_security(),
        # The root filesystem is read-only; Python and the OTel exporter still want a writable /tmp.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir, not the host's
    }
    return {
        "metadata": {
            "labels": labels.service_labels(name, cc.spec.region, service),
            "annotations": {labels.CONFIG_HASH_ANNOTATION: config_hash},
        },
        "spec": {
            # The services never call the Kubernetes API: no token in their pods.
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "fsGroup": RUN_AS_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "affinity": residency_affinity(cc),
            "topologySpreadConstraints": zone_spread(selector),
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }
