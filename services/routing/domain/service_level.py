"""The measured service level of a queue over a window (pure).

"80% within 20 s" counts, among the contacts that arrived in the window, those answered (an
agent accepted) within 20 s of arriving. A contact still waiting, or answered later, counts
against the target once it has waited past the threshold; one that has waited less and is not
answered yet has no outcome yet and is left out, so a burst of fresh arrivals does not pull the
level down before any of them could have been answered in time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One contact: when it arrived and when it was answered (0: not answered)."""

    enqueued_at: float
    answered_at: float = 0.0


@dataclass(frozen=True)
class MeasuredLevel:
    counted: int
    answered_in_time: int

    @property
    def level(self) -> float | None:
        """The fraction answered in time; None when nothing had an outcome."""
        return self.answered_in_time / self.counted if self.counted else None


def measure(
    samples: Iterable[Sample], within_seconds: float, now: float, window_seconds: float
) -> MeasuredLevel:
    counted = in_time = 0
    since = now - window_seconds
    for sample in samples:
        if sample.enqueued_at < since or sample.enqueued_at > now:
            continue
        answered = sample.answered_at > 0
        if answered and sample.answered_at - sample.enqueued_at <= within_seconds:
            counted += 1
            in_time += 1
        elif answered or now - sample.enqueued_at > within_seconds:
            counted += 1
    return MeasuredLevel(counted, in_time)
