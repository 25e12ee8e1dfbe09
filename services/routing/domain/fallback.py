"""Fallback policies as routing sees them (pure): what triggers a policy and what it does.

A policy is built from the ContactCenter's `surge.policies` (`ccmesh.configplane.surge`); the
engine (`fallback_engine`) decides when it engages and releases, the service layer
(`surge_guard`) carries out its steps. `Evidence` is why: the metric, its value, its baseline
and its score, which every FallbackEngaged and FallbackReleased event carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ccsurge.assessment import Assessment, SurgeMetric
from routing.domain.callbacks import CALLABLE_CHANNELS

#: Channels whose contacts a `callback` step turns into call-back requests: their address is a
#: phone number the gateway can call. A caller on hold is still on the line, and a web chat or
#: e-mail gives no number; those contacts keep waiting as they are.
CALLBACK_CHANNELS = CALLABLE_CHANNELS
#: The metric name evidence carries when the predicted service level, not a detector, engaged.
PREDICTED_SERVICE_LEVEL = "predicted_service_level"


@dataclass(frozen=True, slots=True)
class FallbackStep:
    """One action of a policy (the fields its `kind` does not use stay empty)."""

    kind: str  # callback, journey, message, overflow, scale, notify
    text: str = ""
    flow: str = ""
    alias: str = ""
    version: int = 0
    target_queue: str = ""
    target_region: str = ""

    def describe(self) -> str:
        """How events and `ccctl surge status` name the step."""
        match self.kind:
            case "journey":
                return f"journey:{self.flow}/{self.alias}->v{self.version}"
            case "overflow":
                where = f"{self.target_region}/" if self.target_region else ""
                return f"overflow:{where}{self.target_queue}"
        return self.kind


@dataclass(frozen=True, slots=True)
class FallbackPolicy:
    name: str
    tenant: str
    #: "": every queue of the tenant.
    queue: str
    metrics: frozenset[SurgeMetric]
    predicted_service_level_under: float | None
    engage_after_seconds: float
    release_after_seconds: float
    release_margin: float
    steps: tuple[FallbackStep, ...]

    def watches(self, tenant: str, queue: str) -> bool:
        return tenant == self.tenant and (not self.queue or queue == self.queue)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a policy's condition rests on at one moment."""

    metric: str
    value: float
    baseline: float
    score: float
    #: Where it was measured (`SurgeKey.label()`, or "<tenant>/<queue>" for a prediction).
    where: str = ""


#: Manual engagements and releases carry this metric (a person decided, not a detector).
def manual_evidence(by: str) -> Evidence:
    return Evidence("manual", 0.0, 0.0, 0.0, by)


def _is_bad(assessment: Assessment) -> bool:
    """An alert in the direction that hurts: more load, or (service level) less service."""
    if not assessment.alert:
        return False
    if assessment.metric is SurgeMetric.SERVICE_LEVEL:
        return assessment.direction <= 0
    return assessment.direction >= 0


def detector_evidence(policy: FallbackPolicy, assessments: Iterable[Assessment]) -> Evidence | None:
    """The strongest alert among the policy's metrics and queues, None when none alerts."""
    strongest: Assessment | None = None
    for assessment in assessments:
        key = assessment.key
        if assessment.metric not in policy.metrics or not policy.watches(key.tenant_id, key.queue):
            continue
        if _is_bad(assessment) and (strongest is None or abs(assessment.score) > abs(strongest.score)):
            strongest = assessment
    if strongest is None:
        return None
    return Evidence(
        str(strongest.metric), strongest.value, strongest.baseline, strongest.score, strongest.key.label()
    )


def lowest_prediction(
    policy: FallbackPolicy, predicted: Mapping[tuple[str, str], float]
) -> tuple[str, float] | None:
    """(queue, level) of the lowest predicted service level among the policy's queues."""
    watched = [
        (queue, level) for (tenant, queue), level in predicted.items() if policy.watches(tenant, queue)
    ]
    return min(watched, key=lambda item: item[1]) if watched else None


@dataclass(frozen=True, slots=True)
class ManualCommand:
    """A person engaged or released a policy; every routing instance of the region applies it at
    the same moment `at`, so their engines agree and their events carry the same id."""

    tenant: str
    policy: str
    #: "engage" or "release".
    action: str
    at: float
    by: str
