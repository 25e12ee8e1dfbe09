"""Overflow and follow-the-sun rules (pure).

A rule fires for a queue when the contact's wait, the queue's depth or the predicted service
level passes its threshold; the level is the one supervisors see in `GetQueueStats`
(`routing.domain.prediction`: measured handle time, eligible staff, 15-minute arrivals). A depth
rule (`depth_over: N`) moves only the excess: the contacts beyond the first N in the order the
queue serves them (so the newest, lowest-priority ones go, and the contacts
about to be answered here keep their place).

So that contacts do not bounce between two queues that overflow into each other:

- a contact moved by a rule is not moved again by any rule for `cooldown_seconds`;
- a contact a depth rule moved out of a queue is not moved back into that queue until the
  queue's depth has fallen below N - `hysteresis_margin` (margin: a fifth of N, at least 1).
 Its action either moves the contact to the target queue or widens it (the contact
stays and the target queue's agents may also take it). Targets in another region are allowed
only where the tenant's residency policy lets that region receive personal data; that is
checked when the configuration is applied (see `ccmesh.configplane.models`), and checked again
here as defence in depth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from routing.domain.agents import AcdInputError


class HandOverRefused(Exception):
    """Another region certainly did not take a contact (it said no, or nobody serves there)."""


class HandOverUnknown(Exception):
    """No answer in time: another region may or may not have stored the contact."""


@dataclass(frozen=True)
class QueueStats:
    """What a queue's rules read: its depth now and its predicted service level, asked for only
    when a prediction rule is reached (it reads the queue's contacts and the tenant's agents)."""

    depth: int
    predicted_service_level: Callable[[], float]


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
    #: How far below `depth_over` the queue a depth rule emptied must fall before a contact it
    #: moved may be moved back into it; None: a fifth of `depth_over`, at least 1.
    hysteresis_margin: int | None = None
    #: After a move, how long before any rule may move the contact again.
    cooldown_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.hysteresis_margin is not None and self.hysteresis_margin < 0:
            raise AcdInputError(f"overflow[{self.name}].hysteresis_margin", "must be >= 0")
        if self.cooldown_seconds < 0 or not math.isfinite(self.cooldown_seconds):
            raise AcdInputError(f"overflow[{self.name}].cooldown_seconds", "must be a number >= 0")
        if self.action not in ("move", "widen"):
            raise AcdInputError(f"overflow[{self.name}].action", f"'move' or 'widen', got {self.action!r}")
        if (
            self.wait_seconds_over is None
            and self.depth_over is None
            and self.predicted_service_level_under is None
        ):
            raise AcdInputError(f"overflow[{self.name}]", "needs at least one threshold")


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


@dataclass(frozen=True, slots=True)
class OverflowMark:
    """What a contact remembers of the last rule that moved it (see the module's hysteresis)."""

    from_queue: str = ""
    at: float = 0.0
    #: The queue it left must have fewer waiting contacts than this before it goes back there.
    return_below: float = math.inf


NO_MARK = OverflowMark()


@dataclass(frozen=True, slots=True)
class Waiting:
    """One waiting contact as overflow sees it, in the order the queue serves them."""

    contact_id: str
    waited_seconds: float
    mark: OverflowMark = NO_MARK


def return_threshold(rule: OverflowRule) -> float:
    """The depth its queue must fall below before a contact `rule` moved may come back."""
    if rule.depth_over is None:
        return math.inf  # moved by wait or prediction: only the cool-down holds it
    margin = rule.hysteresis_margin if rule.hysteresis_margin is not None else max(1, rule.depth_over // 5)
    return float(rule.depth_over - margin)


def plan_overflow(
    rules: Sequence[OverflowRule],
    waiting: Sequence[Waiting],
    stats: QueueStats,
    now: float,
    depth_of: Callable[[str], int] | Mapping[str, int],
    may_apply: Callable[[str, OverflowRule], bool] | None = None,
) -> dict[str, tuple[OverflowRule, str]]:
    """Contact id -> (the rule that fires for it, why), for the queue's waiting contacts.

    `waiting` is in service order (see `queueing.queue_order`); `depth_of` gives a queue's
    current depth (the contacts waiting in it), for the hysteresis of moving contacts back;
    `may_apply(contact_id, rule)` False leaves a rule out for that contact (e.g. a region that
    refused it a moment ago). The first rule (in configuration order) that fires and may act on
    a contact wins.
    """
    depth = depth_of.get if isinstance(depth_of, Mapping) else depth_of
    level: float | None = None
    plan: dict[str, tuple[OverflowRule, str]] = {}
    for position, contact in enumerate(waiting):
        mark = contact.mark
        for rule in rules:
            if may_apply is not None and not may_apply(contact.contact_id, rule):
                continue
            if rule.action == "move" and mark.from_queue:
                if now - mark.at < rule.cooldown_seconds:
                    continue  # moved a moment ago: not again yet
                if (
                    rule.target_queue == mark.from_queue
                    and (depth(rule.target_queue) or 0) >= mark.return_below
                ):
                    continue  # it left that queue because it was too deep: not until it drains
            why = ""
            if rule.wait_seconds_over is not None and contact.waited_seconds > rule.wait_seconds_over:
                why = f"waited {contact.waited_seconds:.0f}s > {rule.wait_seconds_over:g}s"
            elif (
                rule.depth_over is not None and stats.depth > rule.depth_over and position >= rule.depth_over
            ):
                why = f"depth {stats.depth} > {rule.depth_over}: beyond the first {rule.depth_over}"
            elif rule.predicted_service_level_under is not None:
                if level is None:
                    level = stats.predicted_service_level()
                if level < rule.predicted_service_level_under:
                    why = f"predicted service level {level:.2f} < {rule.predicted_service_level_under:g}"
            if why:
                plan[contact.contact_id] = (rule, why)
                break
    return plan
