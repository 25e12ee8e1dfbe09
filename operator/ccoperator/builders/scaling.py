"""Autoscalers: a CPU HorizontalPodAutoscaler, or a KEDA ScaledObject on JetStream consumer lag."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from ccmesh import naming
from ccmesh.configplane.models import Autoscaling, ContactCenter
from ccoperator import labels
from ccoperator.builders.common import BuildSettings, DesiredObject, Owner, metadata

#: Services whose load is a JetStream backlog; each reads the region's events stream with a durable
#: consumer named after the service, so KEDA can scale it on that consumer's lag.
LAG_SCALED_SERVICES: Final = ("routing", "ai")


def monitoring_endpoint(cc: ContactCenter, settings: BuildSettings) -> str:
    host = urlsplit(cc.spec.nats.url or settings.nats_url).hostname or "nats"
    return f"{host}:{cc.spec.nats.monitoring_port}"


def uses_keda(service: str, autoscaling: Autoscaling, settings: BuildSettings) -> bool:
    return autoscaling.mode == "keda" and settings.keda_available and service in LAG_SCALED_SERVICES


def horizontal_autoscaler(
    cc: ContactCenter, owner: Owner, service: str, autoscaling: Autoscaling, note: str = ""
) -> DesiredObject:
    return DesiredObject(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(
                owner,
                labels.object_name(owner.name, service),
                labels.service_labels(owner.name, cc.spec.region, service),
            ),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": labels.object_name(owner.name, service),
                },
                "minReplicas": autoscaling.min_replicas,
                "maxReplicas": autoscaling.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": autoscaling.target_cpu_utilization,
                            },
                        },
                    }
                ],
            },
        },
        notes=(note,) if note else (),
    )


def scaled_object(
    cc: ContactCenter, owner: Owner, service: str, autoscaling: Autoscaling, settings: BuildSettings
) -> DesiredObject:
    return DesiredObject(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": metadata(
                owner,
                labels.object_name(owner.name, service),
                labels.service_labels(owner.name, cc.spec.region, service),
            ),
            "spec": {
                "scaleTargetRef": {"name": labels.object_name(owner.name, service)},
                "minReplicaCount": autoscaling.min_replicas,
                "maxReplicaCount": autoscaling.max_replicas,
                "triggers": [
                    {
                        "type": "nats-jetstream",
                        "metadata": {
                            "natsServerMonitoringEndpoint": monitoring_endpoint(cc, settings),
                            "account": "$G",
                            "stream": naming.events_stream(cc.spec.region).name,
                            "consumer": service,
                            "lagThreshold": str(autoscaling.lag_threshold),
                        },
                    }
                ],
            },
        }
    )


def autoscaler(
    cc: ContactCenter, owner: Owner, service: str, settings: BuildSettings
) -> DesiredObject | None:
    autoscaling = getattr(cc.spec.services, service).autoscaling
    if autoscaling is None:
        return None
    if uses_keda(service, autoscaling, settings):
        return scaled_object(cc, owner, service, autoscaling, settings)
    note = ""
    if autoscaling.mode == "keda":
        note = (
            f"{service}: KEDA requested but "
            + ("its CRDs are not installed" if not settings.keda_available else "it has no JetStream backlog")
            + "; using a CPU HorizontalPodAutoscaler"
        )
    return horizontal_autoscaler(cc, owner, service, autoscaling, note)
