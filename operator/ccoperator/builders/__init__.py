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
from ccoperator.builders.workloads import deployment, disruption_budget, service_object

__all__ = ["BuildSettings", "DesiredObject", "Manifest", "Owner", "build_desired"]


def build_desired(cc: ContactCenter, owner: Owner, settings: BuildSettings) -> list[DesiredObject]:
    """Every object the region needs, in creation order (config before the pods that read it)."""
    objects: list[DesiredObject] = [auth_secret(cc, owner, settings)]
    for service in labels.SERVICES:
        environment = service_environment(cc, service, settings)
        objects.append(config_map(cc, owner, service, environment))
        objects.append(deployment(cc, owner, service, settings, config_hash(environment)))
        objects.append(service_object(cc, owner, service))
        objects.append(disruption_budget(cc, owner, service))
        scaler = autoscaler(cc, owner, service, settings)
        if scaler is not None:
            objects.append(scaler)
    objects.append(isolation_policy(cc, owner, settings))
    objects.append(gateway_ingress_policy(cc, owner))
    objects.append(integration_egress_policy(cc, owner))
    return objects
