"""Compute the ContactCenter's status from what was observed: conditions that tell the truth.

Pure: the reconciler gathers observations, this turns them into `status`, tests check it directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ccoperator.nats_health import MeshHealth


@dataclass(frozen=True)
class ServiceReplicas:
    ready: int
    desired: int

    @property
    def is_ready(self) -> bool:
        return self.ready >= self.desired


@dataclass(frozen=True)
class Observation:
    generation: int
    now: str
    services: Mapping[str, ServiceReplicas] = field(default_factory=dict)
    #: `field: message` of the first invalid field; when set nothing else was touched.
    invalid_spec: str = ""
    nats_error: str = ""
    nats: Mapping[str, Any] = field(default_factory=dict)
    #: The region's mesh: reachable, JetStream on, streams on the region's servers at their replicas.
    nats_health: MeshHealth | None = None
    changed: Sequence[str] = ()
    repaired: Sequence[str] = ()
    #: Owned objects the spec no longer asks for, deleted this pass (e.g. an HPA replaced by KEDA).
    pruned: Sequence[str] = ()
    notes: Sequence[str] = ()


def replicas_of(deployment: Mapping[str, Any] | None) -> ServiceReplicas:
    if not deployment:
        return ServiceReplicas(ready=0, desired=1)
    desired = deployment.get("spec", {}).get("replicas", 1)
    ready = (deployment.get("status") or {}).get("readyReplicas", 0) or 0
    return ServiceReplicas(ready=int(ready), desired=int(desired))


def _condition(kind: str, holds: bool, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if holds else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


def conditions_for(observation: Observation) -> list[dict[str, Any]]:
    generation = observation.generation
    if observation.invalid_spec:
        message = f"invalid spec, nothing was changed: {observation.invalid_spec}"
        return [
            _condition("Ready", False, "InvalidSpec", message, generation),
            _condition("Progressing", False, "InvalidSpec", message, generation),
            _condition("Degraded", True, "InvalidSpec", message, generation),
        ]
    waiting = sorted(name for name, r in observation.services.items() if not r.is_ready)
    all_ready = not waiting and bool(observation.services)
    if observation.nats_error:
        ready = _condition("Ready", False, "NatsUnavailable", observation.nats_error, generation)
        degraded = _condition("Degraded", True, "NatsUnavailable", observation.nats_error, generation)
    elif all_ready:
        ready = _condition(
            "Ready", True, "AllServicesReady", "every service has its replicas ready", generation
        )
        degraded = _condition("Degraded", False, "AsExpected", "", generation)
    else:
        message = "waiting for ready replicas: " + ", ".join(waiting)
        ready = _condition("Ready", False, "ServicesNotReady", message, generation)
        degraded = _condition("Degraded", False, "AsExpected", "", generation)
    if observation.repaired:
        progressing = _condition(
            "Progressing", True, "Repaired", "restored: " + ", ".join(observation.repaired), generation
        )
    elif observation.changed or observation.pruned:
        parts = [f"applied: {', '.join(observation.changed)}"] if observation.changed else []
        if observation.pruned:
            parts.append(f"removed: {', '.join(observation.pruned)}")
        progressing = _condition("Progressing", True, "Reconciling", "; ".join(parts), generation)
    elif waiting:
        progressing = _condition(
            "Progressing", True, "RollingOut", "rolling out: " + ", ".join(waiting), generation
        )
    else:
        progressing = _condition("Progressing", False, "Stable", "", generation)
    conditions = [ready, progressing, degraded]
    if observation.nats_health is not None:
        conditions.append(observation.nats_health.as_condition(generation))
    return conditions


def _with_transition_times(
    conditions: list[dict[str, Any]], previous: Sequence[Mapping[str, Any]], now: str
) -> list[dict[str, Any]]:
    before = {c.get("type"): c for c in previous}
    for condition in conditions:
        old = before.get(condition["type"])
        same = old is not None and old.get("status") == condition["status"]
        condition["lastTransitionTime"] = (old or {}).get("lastTransitionTime", now) if same else now
    return conditions


def build_status(observation: Observation, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    previous = previous or {}
    status: dict[str, Any] = {
        "conditions": _with_transition_times(
            conditions_for(observation), previous.get("conditions") or [], observation.now
        ),
    }
    if observation.invalid_spec:
        # observedGeneration stays at the last generation that was actually applied.
        return status
    # A service switched off (desired 0) is neither ready nor waited for.
    running = [r for r in observation.services.values() if r.desired > 0]
    ready_count = sum(1 for r in running if r.is_ready)
    status["observedGeneration"] = observation.generation
    status["servicesReady"] = f"{ready_count}/{len(running)}"
    status["services"] = {
        name: {"ready": r.ready, "desired": r.desired} for name, r in sorted(observation.services.items())
    }
    status["notes"] = list(observation.notes)
    if observation.nats:
        status["nats"] = dict(observation.nats)
    if observation.repaired:
        count = int((previous.get("repairs") or {}).get("count", 0)) + 1
        status["repairs"] = {"count": count, "last": list(observation.repaired), "time": observation.now}
    # Kept after the pass (the Progressing message lasts one pass): what went, and when.
    if observation.pruned:
        count = int((previous.get("pruned") or {}).get("count", 0)) + len(observation.pruned)
        status["pruned"] = {"count": count, "last": list(observation.pruned), "time": observation.now}
    return status
