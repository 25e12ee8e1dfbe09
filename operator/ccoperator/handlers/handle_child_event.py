"""A Deployment the operator owns changed or vanished: re-run its ContactCenter's pass right away.

The resync timer would find it too, one interval later; watching the children makes a repair and a
`Ready` status immediate (kopf's reconciliation docs: react to the actual state, not only the spec).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ccoperator import labels
from ccoperator.kube.client import KubeApiError
from ccoperator.reconcile import reconcile
from ccoperator.runtime import Runtime
from ccoperator.status import replicas_of

log = logging.getLogger("ccoperator")


def owning_contactcenter(child: Mapping[str, Any]) -> str | None:
    for reference in child.get("metadata", {}).get("ownerReferences") or []:
        if reference.get("kind") == labels.KIND and reference.get("apiVersion") == labels.CR_API_VERSION:
            return str(reference.get("name"))
    return None


def changes_status(runtime: Runtime, namespace: str, owner: str, event: Mapping[str, Any]) -> bool:
    """Deleted, or ready/desired replicas differ from what status says (our own creations do not)."""
    if event.get("type") == "DELETED":
        return True
    # Only this operator creates these Deployments, and the pass that created one records its state
    # itself; the ADDED event usually arrives before that pass ends, and would queue a pass that
    # finds nothing new (about one per ContactCenter, bench/operator).
    if event.get("type") == "ADDED":
        return False
    child = event.get("object") or {}
    service = (child.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name", "")
    replicas = replicas_of(child)
    return runtime.observed.get(f"{namespace}/{owner}", {}).get(service) != (replicas.ready, replicas.desired)


async def handle_child_event(runtime: Runtime, namespace: str, event: Mapping[str, Any]) -> None:
    child = event.get("object") or {}
    owner = owning_contactcenter(child)
    if owner is None or not changes_status(runtime, namespace, owner, event):
        return
    try:
        # Asked again once the pass may start: the pass it waited for may have seen this already.
        await reconcile(
            runtime, namespace, owner, log, lambda: changes_status(runtime, namespace, owner, event)
        )
    except (TimeoutError, KubeApiError, OSError) as error:
        log.warning(
            "pass for %s/%s after a Deployment change failed; the resync retries: %s", namespace, owner, error
        )
