"""Pure functions from a typed ContactCenter to the Kubernetes manifests of its region.

Nothing here does I/O, so every manifest can be checked with `kubernetes-validate` in unit tests.
"""

from __future__ import annotations

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders.common import BuildSettings, DesiredObject, Manifest, Owner
from ccoperator.builders.config_objects import auth_secret, config_hash, config_map, service_environment
from ccoperator.builders.network import gateway_ingress_policy, integration_egress_policy, isolation_policy
from ccoperator.builders.scaling import autoscaler
from ccoperator.builders.workloads import deployment, disruption_budget, is_switched_off, service_object

__all__ = [
    "BuildSettings",
    "DesiredObject",
    "Manifest",
    "Owner",
    "build_desired",
    "is_switched_off",
    "switched_off_services",
]


def switched_off_services(cc: ContactCenter) -> list[str]:
    return [service for service in labels.SERVICES if is_switched_off(cc, service)]


def build_desired(cc: ContactCenter, owner: Owner, settings: BuildSettings) -> list[DesiredObject]:
    """Every object the region needs, in creation order (config before the pods that read it)."""
    objects: list[DesiredObject] = [auth_secret(cc, owner, settings)]
    off = switched_off_services(cc)
    for service in labels.SERVICES:
        if service in off:
            continue  # whatever it had is pruned (`ccoperator.prune`)
        environment = service_environment(cc, service, settings)
        objects.append(config_map(cc, owner, service, environment))
        objects.append(deployment(cc, owner, service, settings, config_hash(environment)))
        objects.append(service_object(cc, owner, service))
        objects.append(disruption_budget(cc, owner, service))
        scaler = autoscaler(cc, owner, service, settings)
        if scaler is not None:
            objects.append(scaler)
    objects.append(isolation_policy(cc, owner, settings))
    if "gateway" not in off:
        objects.append(gateway_ingress_policy(cc, owner))
    if "integration" not in off:
        objects.append(integration_egress_policy(cc, owner))
    return objects
