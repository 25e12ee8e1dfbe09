"""Delete what a ContactCenter owns but its spec no longer asks for: a replaced or removed autoscaler,
and every object of a service switched off (`replicas: 0` without autoscaling).

By name, never by listing. The operator names everything it creates deterministically (`labels`), so
the objects it may own for one ContactCenter are a short fixed set. A LIST, even label-selected,
makes the API server walk every object of that kind in the namespace, and doing it on every pass of
every ContactCenter made a round of passes O(n²) (bench/operator measured it growing with the
number of resources). A GET by name costs the same whatever else the cluster holds.

And not even every name on every pass: after the first pass of a ContactCenter (per operator process,
keyed by its uid) only the objects that pass wanted are candidates, since only the operator creates
objects with its owner reference. A restarted operator starts with no memory, so its first pass
checks every possible name again: a crash between a spec change and its prune loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ccoperator import labels
from ccoperator.builders import DesiredObject, Owner
from ccoperator.builders.scaling import LAG_SCALED_SERVICES
from ccoperator.converge import ConvergeReport
from ccoperator.kube.client import KubeApiError, KubeClient
from ccoperator.kube.resources import KINDS


def possible_objects(contactcenter: str, keda_available: bool) -> set[str]:
    """`Kind/name` of every object the operator may create for a ContactCenter, except its auth Secret.

    The Secret lives as long as the resource (its generated value must survive any spec change), so
    it is never a candidate and the operator needs no `delete` on Secrets.
    """
    keys = {
        f"NetworkPolicy/{labels.isolation_policy_name(contactcenter)}",
        f"NetworkPolicy/{labels.gateway_ingress_policy_name(contactcenter)}",
        f"NetworkPolicy/{labels.integration_egress_policy_name(contactcenter)}",
    }
    for service in labels.SERVICES:
        name = labels.object_name(contactcenter, service)
        keys.add(f"ConfigMap/{labels.config_map_name(contactcenter, service)}")
        keys.update(
            f"{kind}/{name}"
            for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler")
        )
        # Without KEDA's CRDs the kind is not served: nothing of it can exist.
        if keda_available and service in LAG_SCALED_SERVICES:
            keys.add(f"ScaledObject/{name}")
    return keys


#: Kinds the operator may delete; the chart grants `delete` on exactly these.
PRUNABLE_KINDS = frozenset(key.split("/", 1)[0] for key in possible_objects("x", keda_available=True))


def owned_by(obj: dict[str, Any], owner: Owner) -> bool:
    """Carries this ContactCenter's ownership labels and its controller owner reference (same uid)."""
    metadata = obj.get("metadata") or {}
    object_labels = metadata.get("labels") or {}
    if object_labels.get("app.kubernetes.io/managed-by") != labels.MANAGED_BY:
        return False
    if object_labels.get("app.kubernetes.io/instance") != owner.name:
        return False
    return any(
        reference.get("kind") == labels.KIND
        and reference.get("apiVersion") == labels.CR_API_VERSION
        and reference.get("uid") == owner.uid
        and reference.get("controller") is True
        for reference in metadata.get("ownerReferences") or []
    )


async def _prune_one(kube: KubeClient, owner: Owner, key: str, report: ConvergeReport) -> None:
    kind_name, name = key.split("/", 1)
    kind = KINDS[kind_name]
    try:
        item = await kube.get(kind, owner.namespace, name)
    except KubeApiError as error:
        if error.status == 403:  # not allowed to read it: nothing we may prune
            return
        raise
    # Someone else's object under our name is left alone, and one already going needs nothing.
    if item is None or not owned_by(item, owner) or (item.get("metadata") or {}).get("deletionTimestamp"):
        return
    await kube.delete(kind, owner.namespace, name)
    report.pruned.append(key)


async def prune(
    kube: KubeClient,
    owner: Owner,
    desired: Sequence[DesiredObject],
    report: ConvergeReport,
    known: set[str] | None,
    keda_available: bool,
) -> set[str]:
    """Delete owned objects the desired set no longer holds; returns the candidates for the next pass.

    `known`: what the previous pass of this ContactCenter left (None: no previous pass, check all).
    Call after converging, so a replacement (a ScaledObject for an HPA) exists before the old one goes.
    """
    possible = possible_objects(owner.name, keda_available)
    wanted = {d.key for d in desired}
    # Without a uid nothing can be proven ours.
    candidates = (possible if known is None else known) - wanted if owner.uid else set()
    await asyncio.gather(*(_prune_one(kube, owner, key, report) for key in sorted(candidates)))
    report.pruned.sort()
    # Converge just created or confirmed every wanted object.
    return wanted & possible
