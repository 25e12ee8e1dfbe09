"""NetworkPolicies: a region's pods reach only their region's NATS; only the gateway takes ingress."""

from __future__ import annotations

from typing import Any

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders.common import BuildSettings, DesiredObject, Owner, metadata

DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
OTLP_PORTS = [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}]


def _instance_selector(owner: Owner) -> dict[str, Any]:
    return {
        "matchLabels": {
            "app.kubernetes.io/instance": owner.name,
            "app.kubernetes.io/part-of": "contactcenter",
        }
    }


def nats_peer(cc: ContactCenter) -> dict[str, Any]:
    # Any namespace (NATS usually has its own), but only servers labelled with THIS region.
    return {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {**cc.spec.nats.server_labels, labels.REGION_LABEL: cc.spec.region}},
    }


def isolation_policy(cc: ContactCenter, owner: Owner, settings: BuildSettings) -> DesiredObject:
    egress: list[dict[str, Any]] = [
        {"to": [nats_peer(cc)], "ports": [{"protocol": "TCP", "port": labels.NATS_CLIENT_PORT}]},
        # Name resolution is needed to find NATS at all; the cluster DNS sits in kube-system.
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": DNS_PORTS,
        },
    ]
    if settings.otel_endpoint:
        egress.append({"ports": OTLP_PORTS})
    return DesiredObject(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(
                owner,
                labels.isolation_policy_name(owner.name),
                labels.instance_labels(owner.name, cc.spec.region),
            ),
            "spec": {
                "podSelector": _instance_selector(owner),
                "policyTypes": ["Ingress", "Egress"],
                # Pods of the same region may call each other's gRPC port; nobody else may call in,
                # except Prometheus (in its own namespace) scraping /metrics.
                "ingress": [
                    {
                        "from": [{"podSelector": _instance_selector(owner)}],
                        "ports": [{"protocol": "TCP", "port": labels.GRPC_PORT}],
                    },
                    {"ports": [{"protocol": "TCP", "port": labels.METRICS_PORT}]},
                ],
                "egress": egress,
            },
        }
    )


def gateway_ingress_policy(cc: ContactCenter, owner: Owner) -> DesiredObject:
    return DesiredObject(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(
                owner,
                labels.gateway_ingress_policy_name(owner.name),
                labels.instance_labels(owner.name, cc.spec.region),
            ),
            "spec": {
                "podSelector": {"matchLabels": labels.selector_labels(owner.name, "gateway")},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "ports": [
                            {"protocol": "TCP", "port": labels.GATEWAY_HTTP_PORT},
                            {"protocol": "TCP", "port": labels.GRPC_PORT},
                        ]
                    }
                ],
            },
        }
    )


def integration_egress_policy(cc: ContactCenter, owner: Owner) -> DesiredObject:
    # Webhook deliveries and CRM calls go to the customer's HTTPS endpoints, wherever they are.
    return DesiredObject(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(
                owner,
                labels.integration_egress_policy_name(owner.name),
                labels.instance_labels(owner.name, cc.spec.region),
            ),
            "spec": {
                "podSelector": {"matchLabels": labels.selector_labels(owner.name, "integration")},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
            },
        }
    )
