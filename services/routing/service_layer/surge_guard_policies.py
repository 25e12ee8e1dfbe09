"""The ContactCenter's `surge.policies` as the guard's domain policies (read again on a change)."""

from __future__ import annotations

from collections.abc import Callable

from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.surge import DEFAULT_CALLBACK_TEXT, DEFAULT_WAIT_TEXT, FallbackAction, SurgePolicy
from ccsurge.assessment import SurgeMetric
from routing.domain.fallback import FallbackPolicy, FallbackStep

_DEFAULT_TEXTS = {"callback": DEFAULT_CALLBACK_TEXT, "message": DEFAULT_WAIT_TEXT}


def step_of(action: FallbackAction) -> FallbackStep:
    return FallbackStep(
        kind=action.type,
        text=action.text or _DEFAULT_TEXTS.get(action.type, ""),
        flow=action.flow,
        alias=action.alias,
        version=action.version,
        target_queue=action.target_queue,
        target_region=action.target_region or "",
    )


def policy_of(policy: SurgePolicy) -> FallbackPolicy:
    return FallbackPolicy(
        name=policy.name,
        tenant=policy.tenant,
        queue=policy.queue,
        metrics=frozenset(SurgeMetric(m) for m in policy.metrics),
        predicted_service_level_under=policy.predicted_service_level_under,
        engage_after_seconds=policy.engage_after_seconds,
        release_after_seconds=policy.release_after_seconds,
        release_margin=policy.release_margin,
        steps=tuple(step_of(a) for a in policy.actions),
    )


def fallback_policies_of(document: ContactCenter | None) -> list[FallbackPolicy]:
    return [] if document is None else [policy_of(p) for p in document.spec.surge.policies]


def policies_following(current: Callable[[], ContactCenter | None]) -> Callable[[], list[FallbackPolicy]]:
    """The policies of the document `current()` returns, built again only when it is replaced."""
    seen: ContactCenter | None = None
    policies: list[FallbackPolicy] = []

    def now() -> list[FallbackPolicy]:
        nonlocal seen, policies
        document = current()
        if document is not seen:
            seen, policies = document, fallback_policies_of(document)
        return policies

    return now
