"""How sensitive a detector is and how long a shift must last, checked once when built.

Scores are robust z-scores: how many robust standard deviations (1.4826 x MAD) an observation
lies from its seasonal baseline. Counts (arrivals, waiting, abandoned) are first stabilised
with the Anscombe transform 2*sqrt(x + 3/8), under which a Poisson count has unit variance at
any rate, so one threshold serves a quiet night and a busy noon alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ccsurge.assessment import SurgeMetric

#: A week of 15-minute slots, Monday 00:00 first: the seasonal grid baselines are learned on.
SLOT_SECONDS = 900
SLOTS_PER_DAY = 86_400 // SLOT_SECONDS
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY


class SurgeSettingsError(ValueError):
    """A setting out of range; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    #: Multiplies every score before the thresholds: 2.0 fires on half the deviation.
    sensitivity: float = 1.0
    #: |score| from which one observation alone is anomalous.
    threshold: float = 6.0
    #: |score| under which an observation counts as back to normal (hysteresis).
    clear_threshold: float = 2.5
    #: EWMA of the (clipped) score: weight of the newest observation, and its alarm level.
    ewma_weight: float = 0.25
    ewma_threshold: float = 2.0
    #: CUSUM of the (clipped) score: allowance per observation and alarm level.
    cusum_allowance: float = 0.75
    cusum_threshold: float = 14.0
    #: An anomaly becomes an alert once it lasted this long; an alert clears after this long calm.
    min_duration_seconds: float = 60.0
    clear_duration_seconds: float = 120.0
    #: +1: only rises alert; -1: only drops; 0: both.
    direction: int = 0
    #: Treat values as counts (Anscombe transform, unit-variance floor on the scale).
    counts: bool = True
    #: Smallest robust scale, in the (transformed) unit; guards against a MAD of zero.
    min_scale: float = 1.0
    #: Scores are clipped to this before the EWMA, the CUSUM and learning, so one wild value
    #: neither dominates a sustained-shift statistic nor drags the baseline.
    clip: float = 4.0
    #: Values kept per weekday x slot (oldest dropped); a slot is trusted from `min_slot_samples`.
    slot_memory: int = 60
    min_slot_samples: int = 8
    #: Until a slot is trusted: the robust level of the last `cold_window` observations once
    #: there are `cold_min_samples` of them, else `cold_start_baseline`.
    cold_window: int = 30
    cold_min_samples: int = 5
    cold_start_baseline: float = 0.0
    #: Seconds added to timestamps before slotting (the region's UTC offset).
    utc_offset_seconds: float = 0.0

    def __post_init__(self) -> None:
        _positive("sensitivity", self.sensitivity)
        _positive("threshold", self.threshold)
        _positive("clear_threshold", self.clear_threshold)
        if self.clear_threshold >= self.threshold:
            raise SurgeSettingsError("clear_threshold", f"must be below threshold ({self.threshold})")
        if not 0 < self.ewma_weight <= 1:
            raise SurgeSettingsError("ewma_weight", f"must be > 0 and <= 1, got {self.ewma_weight}")
        _positive("ewma_threshold", self.ewma_threshold)
        if not (math.isfinite(self.cusum_allowance) and self.cusum_allowance >= 0):
            raise SurgeSettingsError("cusum_allowance", f"must be >= 0, got {self.cusum_allowance}")
        _positive("cusum_threshold", self.cusum_threshold)
        _non_negative("min_duration_seconds", self.min_duration_seconds)
        _non_negative("clear_duration_seconds", self.clear_duration_seconds)
        if self.direction not in (-1, 0, 1):
            raise SurgeSettingsError("direction", f"must be -1, 0 or 1, got {self.direction}")
        _positive("min_scale", self.min_scale)
        _positive("clip", self.clip)
        for name in ("slot_memory", "min_slot_samples", "cold_window", "cold_min_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SurgeSettingsError(name, f"must be a whole number >= 1, got {value!r}")
        if self.min_slot_samples > self.slot_memory:
            raise SurgeSettingsError("min_slot_samples", f"must be <= slot_memory ({self.slot_memory})")
        if self.cold_min_samples > self.cold_window:
            raise SurgeSettingsError("cold_min_samples", f"must be <= cold_window ({self.cold_window})")
        if not math.isfinite(self.cold_start_baseline):
            raise SurgeSettingsError("cold_start_baseline", "must be a finite number")
        if self.counts and self.cold_start_baseline < 0:
            raise SurgeSettingsError("cold_start_baseline", "must be >= 0 for counts")
        if not math.isfinite(self.utc_offset_seconds):
            raise SurgeSettingsError("utc_offset_seconds", "must be a finite number")


def _positive(field: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise SurgeSettingsError(field, f"must be a number > 0, got {value!r}")


def _non_negative(field: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise SurgeSettingsError(field, f"must be a number >= 0, got {value!r}")


#: What each queue signal means as a surge: more arrivals (or none at all: an outage upstream),
#: more waiting, longer waits, more abandons, a lower service level.
_METRIC_DEFAULTS: dict[SurgeMetric, DetectorSettings] = {
    SurgeMetric.ARRIVALS: DetectorSettings(),
    SurgeMetric.WAITING: DetectorSettings(direction=1),
    # Seconds: not counts; a wait shorter than half a minute is no signal of its own.
    SurgeMetric.LONGEST_WAIT: DetectorSettings(direction=1, counts=False, min_scale=30.0),
    SurgeMetric.ABANDONED: DetectorSettings(direction=1),
    # A share 0..1: ten points is the smallest move worth a score of one.
    SurgeMetric.SERVICE_LEVEL: DetectorSettings(
        direction=-1, counts=False, min_scale=0.1, cold_start_baseline=1.0
    ),
}


def settings_for(metric: SurgeMetric, **overrides: float | int | bool) -> DetectorSettings:
    """The defaults for `metric` with `overrides` (e.g. a configured sensitivity) applied."""
    return replace(_METRIC_DEFAULTS[metric], **overrides)  # type: ignore[arg-type]
