"""Names and labels of everything the operator creates for one ContactCenter.

Names are `<contactcenter>-<service>`; the CRD caps the ContactCenter's name so these stay DNS labels.
"""

from __future__ import annotations

from typing import Final

from ccmesh.configplane.models import API_GROUP, API_VERSION

SERVICES: Final = ("identity", "routing", "gateway", "ai", "integration")
KIND: Final = "ContactCenter"
PLURAL: Final = "contactcenters"
GROUP: Final = API_GROUP
VERSION: Final = API_VERSION.split("/", 1)[1]
CR_API_VERSION: Final = API_VERSION

MANAGED_BY: Final = "ccoperator"
REGION_LABEL: Final = f"{API_GROUP}/region"
NODE_REGION_LABEL: Final = "topology.kubernetes.io/region"
NODE_ZONE_LABEL: Final = "topology.kubernetes.io/zone"
CONFIG_HASH_ANNOTATION: Final = f"{API_GROUP}/config-hash"
#: Longest ContactCenter name that still leaves room for `-integration-config` in a 63-character label.
MAX_NAME_LENGTH: Final = 40

GRPC_PORT: Final = 50051
GATEWAY_HTTP_PORT: Final = 8080
NATS_CLIENT_PORT: Final = 4222
#: Every service serves Prometheus `/metrics` here (the OpenTelemetry Prometheus exporter's port).
METRICS_PORT: Final = 9464


def object_name(contactcenter: str, service: str) -> str:
    return f"{contactcenter}-{service}"


def config_map_name(contactcenter: str, service: str) -> str:
    return f"{contactcenter}-{service}-config"


def auth_secret_name(contactcenter: str) -> str:
    return f"{contactcenter}-auth"


def isolation_policy_name(contactcenter: str) -> str:
    return f"{contactcenter}-isolation"


def gateway_ingress_policy_name(contactcenter: str) -> str:
    return f"{contactcenter}-gateway-ingress"


def integration_egress_policy_name(contactcenter: str) -> str:
    return f"{contactcenter}-integration-egress"


def instance_labels(contactcenter: str, region: str) -> dict[str, str]:
    """Labels on every object of one ContactCenter (the NetworkPolicy selects its pods by these)."""
    return {
        "app.kubernetes.io/instance": contactcenter,
        "app.kubernetes.io/part-of": "contactcenter",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        REGION_LABEL: region,
    }


def selector_labels(contactcenter: str, service: str) -> dict[str, str]:
    """The immutable Deployment selector: never include anything that may change."""
    return {"app.kubernetes.io/instance": contactcenter, "app.kubernetes.io/name": service}


def service_labels(contactcenter: str, region: str, service: str) -> dict[str, str]:
    return {**instance_labels(contactcenter, region), "app.kubernetes.io/name": service}
