"""Fallback policies of a ContactCenter: what routing does by itself when a queue is under surge.

A policy watches a tenant (or one of its queues). When a surge detector alerts on one of the
policy's metrics, or the predicted service level stays below its threshold, for
`engageAfterSeconds`, the policy engages its actions in order; once everything has been normal
for `releaseAfterSeconds` (the predicted level back above the threshold plus `releaseMargin`),
it releases them in reverse order. Supervisors can engage and release by hand
(`ccctl surge engage|release`).

The actions are one flat model with a `type` (not a union of models), so the CRD generated from
it stays a Kubernetes structural schema; the fields each type needs are checked here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ccmesh.configplane.base import Model, RegionName, ResourceId

#: What a detector watches (`ccsurge.assessment.SurgeMetric` values).
SurgeMetricName = Literal["arrivals", "waiting", "longest_wait", "abandoned", "service_level"]
FallbackActionType = Literal["callback", "journey", "message", "overflow", "scale", "notify"]

DEFAULT_CALLBACK_TEXT = (
    "We are busier than usual. We will call you back as soon as an agent is free; "
    "you keep your place in the queue."
)
DEFAULT_WAIT_TEXT = (
    "We are busier than usual: the estimated wait is about {wait} minutes. Thank you for waiting."
)


def _default_metrics() -> list[SurgeMetricName]:
    return ["arrivals", "waiting", "longest_wait"]


class FallbackAction(Model):
    """One step of a fallback policy; the fields a `type` does not use stay empty."""

    type: FallbackActionType = Field(
        description=(
            "`callback`: waiting SMS and WhatsApp contacts (and new ones while engaged) become queued "
            "call-back requests that keep their place, and the customer is told so on their channel; "
            "`journey`: point a "
            "flow's alias at its fallback version (restored on release); `message`: tell each waiting "
            "customer the estimated wait (`{wait}` in `text` becomes minutes); `overflow`: agents of "
            "`targetQueue` (in `targetRegion`) may also take the queue's contacts; `scale`: raise the "
            "scaling signal (`contactcenter_surge_scaling_signal`); `notify`: supervisors and webhook "
            "subscribers are told (the FallbackEngaged/FallbackReleased events)."
        )
    )
    text: str = Field(
        default="",
        max_length=1000,
        description="`callback`, `message`: what the customer is told; empty: the platform's wording.",
    )
    flow: str = Field(default="", max_length=200, description="`journey`: the flow whose alias switches.")
    alias: str = Field(default="live", max_length=63, description="`journey`: the alias that switches.")
    version: int = Field(
        default=0,
        ge=0,
        description="`journey`: the flow's fallback version the alias points at while engaged.",
    )
    target_queue: str = Field(
        default="", max_length=200, description="`overflow`: the queue whose agents may also serve."
    )
    target_region: RegionName | None = Field(
        default=None,
        description=(
            "`overflow`: region of the target queue; must be this region or one the tenant's residency "
            "lets receive its contacts (personalDataRegions or pseudonymousRegions)."
        ),
    )

    @model_validator(mode="after")
    def _fields_of_type(self) -> FallbackAction:
        if self.type == "journey":
            if not self.flow:
                raise ValueError("a `journey` action needs `flow`")
            if self.version < 1:
                raise ValueError("a `journey` action needs `version` (the fallback version, >= 1)")
        if self.type == "overflow" and not self.target_queue:
            raise ValueError("an `overflow` action needs `targetQueue`")
        return self


class SurgePolicy(Model):
    name: ResourceId = Field(description="Policy name, unique in the region; events and errors name it.")
    tenant: ResourceId = Field(description="Tenant whose traffic the policy watches.")
    queue: str = Field(
        default="",
        max_length=200,
        description="Queue the policy watches; empty: every queue of the tenant.",
    )
    metrics: list[SurgeMetricName] = Field(
        default_factory=_default_metrics,
        description="Detector alerts that engage the policy (a rise; for `service_level`, a fall).",
    )
    predicted_service_level_under: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Also engage while the queue's predicted service level (0..1) is below this.",
    )
    engage_after_seconds: float = Field(
        default=60.0, ge=0, le=86400, description="How long the condition must hold before engaging."
    )
    release_after_seconds: float = Field(
        default=300.0, ge=0, le=86400, description="How long everything must be normal before releasing."
    )
    release_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Hysteresis: release once the predicted service level is above the threshold plus this.",
    )
    actions: list[FallbackAction] = Field(
        min_length=1, max_length=16, description="What to do, in order (released in reverse order)."
    )

    @model_validator(mode="after")
    def _has_trigger(self) -> SurgePolicy:
        if not self.metrics and self.predicted_service_level_under is None:
            raise ValueError(
                f"surge policy {self.name!r} needs a trigger: metrics or predictedServiceLevelUnder"
            )
        repeated = sorted({m for m in self.metrics if self.metrics.count(m) > 1})
        if repeated:
            raise ValueError(f"surge policy {self.name!r} lists metric(s) {repeated} more than once")
        return self


class SurgeSettings(Model):
    policies: list[SurgePolicy] = Field(
        default_factory=list,
        description="Fallback policies: a surge engages their actions in order, normal load releases them.",
    )
