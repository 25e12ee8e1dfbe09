"""What a detector says about one observation: the shared currency of detection and fallback."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SurgeMetric(StrEnum):
    """The queue signals a detector watches, one detector per metric and key."""

    ARRIVALS = "arrivals"  # new contacts per interval
    WAITING = "waiting"  # contacts waiting at the end of the interval
    LONGEST_WAIT = "longest_wait"  # seconds the oldest waiting contact has waited
    ABANDONED = "abandoned"  # contacts that left the queue unanswered in the interval
    SERVICE_LEVEL = "service_level"  # share answered within the queue's target (0..1)


@dataclass(frozen=True, slots=True)
class SurgeKey:
    """Where a signal is measured; empty strings mean "all" (e.g. every channel of a queue)."""

    region: str
    tenant_id: str
    queue: str = ""
    channel: str = ""

    def label(self) -> str:
        return "/".join(part or "*" for part in (self.region, self.tenant_id, self.queue, self.channel))


@dataclass(frozen=True, slots=True)
class Assessment:
    """One observation judged against its baseline.

    `alert` is the detector's sustained verdict (after its minimum duration), not a single
    outlier; `direction` says which way the signal left normal (+1 up, -1 down, 0 normal).
    """

    key: SurgeKey
    metric: SurgeMetric
    at: float  # seconds since the epoch of the interval's end
    value: float
    baseline: float
    score: float  # robust z-score against the seasonal baseline (median/MAD)
    alert: bool
    direction: int = 0
