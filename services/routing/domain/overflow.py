"""Overflow and follow-the-sun rules (pure).

A rule fires for a queue when the contact's wait, the queue's depth or the predicted service
level (Erlang C, from the queue's arrival rate, handle time and staffed agents) passes its
threshold. Its action either moves the contact to the target queue or widens it (the contact
stays and the target queue's agents may also take it). Targets in another region are allowed
only where the tenant's residency policy lets that region receive personal data; that is
checked when the configuration is applied (see `ccmesh.configplane.models`), and checked again
here as defence in depth.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from routing.domain.agents import AcdInputError
from routing.domain.erlang_c import QueueParameterError, forecast


class HandOverRefused(Exception):
    """Another region certainly did not take a contact (it said no, or nobody serves there)."""


class HandOverUnknown(Exception):
    """No answer in time: another region may or may not have stored the contact."""


@dataclass(frozen=True)
class QueueStats:
    depth: int
    arrivals_per_hour: float
    average_handle_seconds: float
    staffed_agents: int
    target_answer_seconds: float = 20.0


@dataclass(frozen=True)
class OverflowRule:
    name: str
    queue: str
    target_queue: str
    target_region: str = ""
    target_brand: str = ""
    action: str = "move"
    wait_seconds_over: float | None = None
    depth_over: int | None = None
    predicted_service_level_under: float | None = None

    def __post_init__(self) -> None:
        if self.action not in ("move", "widen"):
            raise AcdInputError(f"overflow[{self.name}].action", f"'move' or 'widen', got {self.action!r}")
        if (
            self.wait_seconds_over is None
            and self.depth_over is None
            and self.predicted_service_level_under is None
        ):
            raise AcdInputError(f"overflow[{self.name}]", "needs at least one threshold")


def predicted_service_level(stats: QueueStats) -> float:
    """Erlang C service level; 0 when the queue is unstaffed or overloaded."""
    try:
        return forecast(
            stats.arrivals_per_hour,
            stats.average_handle_seconds,
            stats.staffed_agents,
            stats.target_answer_seconds,
        ).service_level
    except QueueParameterError:
        return 0.0


def residency_violations(
    rules: Iterable[OverflowRule], home_region: str, allowed_regions: Collection[str]
) -> list[str]:
    """Messages naming each rule whose target region the residency policy forbids."""
    problems = []
    for rule in rules:
        if (
            rule.target_region
            and rule.target_region != home_region
            and rule.target_region not in allowed_regions
        ):
            problems.append(
                f"overflow rule {rule.name!r} targets region {rule.target_region!r}, but residency of "
                f"{home_region!r} allows personal data only in {sorted({home_region, *allowed_regions})}"
            )
    return problems


def firing_rule(
    rules: Iterable[OverflowRule], waited_seconds: float, stats: QueueStats
) -> tuple[OverflowRule, str] | None:
    """The first rule of the queue that fires, with the threshold that made it fire."""
    for rule in rules:
        if rule.wait_seconds_over is not None and waited_seconds > rule.wait_seconds_over:
            return rule, f"waited {waited_seconds:.0f}s > {rule.wait_seconds_over:g}s"
        if rule.depth_over is not None and stats.depth > rule.depth_over:
            return rule, f"depth {stats.depth} > {rule.depth_over}"
        if rule.predicted_service_level_under is not None:
            level = predicted_service_level(stats)
            if level < rule.predicted_service_level_under:
                return rule, f"predicted service level {level:.2f} < {rule.predicted_service_level_under:g}"
    return None
