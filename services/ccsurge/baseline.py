"""The seasonal baseline: what a signal usually is at this weekday and quarter hour.

Each weekday x 15-minute slot keeps its last `slot_memory` values (in the transformed unit);
its baseline is the mean of their middle half (around the median, see `median_and_scale`) and
its scale 1.4826 x their MAD (floored at `min_scale`), both robust to the occasional surge the
history holds. Values of the slot occurrence in progress
wait in `pending` and join the slot when it ends, so an observation is never judged against a
baseline it helped to make. Between slot centres the baseline is interpolated linearly with
the neighbouring slot, so a morning ramp is a slope, not a staircase.

A slot with fewer than `min_slot_samples` values is not trusted yet (cold start): the baseline
is then the same robust level of the last `cold_window` observations, all of them, clipped
like the slots' (without a seasonal model nothing tells a lasting change from a surge, so a
long one slowly becomes the new normal), or `cold_start_baseline` before there are
`cold_min_samples` of those. `seasonal` and `guessed` say which one the last `expected` used.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from ccsurge.settings import SLOT_SECONDS, SLOTS_PER_DAY, SLOTS_PER_WEEK, DetectorSettings

_MAD_TO_SIGMA = 1.4826
#: 1970-01-01 was a Thursday; slot 0 is Monday 00:00.
_EPOCH_WEEKDAY = 3


def transform(value: float, counts: bool) -> float:
    """Counts to unit Poisson variance (Anscombe); other values as they are."""
    return 2.0 * math.sqrt(max(value, 0.0) + 0.375) if counts else value


def untransform(level: float, counts: bool) -> float:
    return max((level / 2.0) ** 2 - 0.375, 0.0) if counts else level


def week_position(at: float, utc_offset_seconds: float = 0.0) -> float:
    """Where `at` falls in the week, in slots (0.0 = Monday 00:00, 672.0 = a week later)."""
    local = at + utc_offset_seconds
    days = math.floor(local / 86_400)
    weekday = (days + _EPOCH_WEEKDAY) % 7
    return weekday * SLOTS_PER_DAY + (local - days * 86_400) / SLOT_SECONDS


def median_and_scale(values: Sequence[float], min_scale: float) -> tuple[float, float]:
    """(location, scale): the scale is 1.4826 x the MAD; the location is the mean of the middle
    half of the values, which contains the median and resists outliers as well (up to a quarter
    on either side) but, unlike the median, does not jump between the few values a small count
    can take (a median of 2 or 3 arrivals a minute is biased by up to half a step, which the
    EWMA and CUSUM would add up into an alert)."""
    ordered = sorted(values)
    n = len(ordered)
    median = _middle(ordered)
    deviations = sorted(abs(v - median) for v in ordered)
    quarter = n // 4
    middle = ordered[quarter : n - quarter]
    return sum(middle) / len(middle), max(_MAD_TO_SIGMA * _middle(deviations), min_scale)


def _middle(ordered: Sequence[float]) -> float:
    n = len(ordered)
    half = n // 2
    return ordered[half] if n % 2 else 0.5 * (ordered[half - 1] + ordered[half])


class SeasonalBaseline:
    """One signal's baseline; `expected(position)` then `learn(position, level)` per observation."""

    __slots__ = (
        "_history",
        "_median",
        "_pending",
        "_pending_slot",
        "_recent",
        "_recent_stats",
        "_scale",
        "_settings",
        "guessed",
        "seasonal",
    )

    def __init__(self, settings: DetectorSettings) -> None:
        self._settings = settings
        self._history: list[deque[float] | None] = [None] * SLOTS_PER_WEEK
        #: Per slot, its median and scale; NaN while it is not trusted.
        self._median = [math.nan] * SLOTS_PER_WEEK
        self._scale = [math.nan] * SLOTS_PER_WEEK
        self._pending: list[float] = []
        self._pending_slot = -1
        self._recent: deque[float] = deque(maxlen=settings.cold_window)
        self._recent_stats: tuple[float, float] | None = None
        #: Whether the last `expected` came from the seasonal grid (False: cold start).
        self.seasonal = False
        #: Whether it was `cold_start_baseline`, a guess rather than anything observed.
        self.guessed = True

    def expected(self, position: float) -> tuple[float, float]:
        """(baseline, scale) in the transformed unit at `position` (see `week_position`)."""
        slot = int(position)
        median = self._median[slot]
        if median == median:  # not NaN: the slot is trusted
            scale = self._scale[slot]
            offset = position - slot - 0.5
            neighbour = (slot + (1 if offset > 0 else -1)) % SLOTS_PER_WEEK
            other = self._median[neighbour]
            if other == other:
                weight = abs(offset)
                median += (other - median) * weight
                scale += (self._scale[neighbour] - scale) * weight
            self.seasonal = True
            self.guessed = False
            return median, scale
        self.seasonal = False
        settings = self._settings
        if len(self._recent) >= settings.cold_min_samples:
            self.guessed = False
            if self._recent_stats is None:
                self._recent_stats = median_and_scale(self._recent, settings.min_scale)
            return self._recent_stats
        self.guessed = True
        return transform(settings.cold_start_baseline, settings.counts), settings.min_scale

    def learn(self, position: float, level: float) -> None:
        """Keep `level` (already clipped near the baseline by the caller) for its slot and in
        the recent window the cold start reads."""
        slot = int(position)
        if slot != self._pending_slot:
            self._close_pending()
            self._pending_slot = slot
        self._pending.append(level)
        self._recent.append(level)
        self._recent_stats = None

    def fit(self, positions: Sequence[float] | np.ndarray, levels: Sequence[float] | np.ndarray) -> None:
        """Learn a history at once (positions and transformed levels, oldest first)."""
        slots = np.asarray(positions, dtype=np.float64).astype(np.int64)
        values = np.asarray(levels, dtype=np.float64)
        self._close_pending()
        memory = self._settings.slot_memory
        for slot in np.unique(slots):
            kept = values[slots == slot][-memory:]
            self._extend(int(slot), kept.tolist())
        self._recent.extend(values[-self._settings.cold_window :].tolist())
        self._recent_stats = None

    def _close_pending(self) -> None:
        if self._pending_slot >= 0 and self._pending:
            self._extend(self._pending_slot, self._pending)
        self._pending = []

    def _extend(self, slot: int, values: Sequence[float]) -> None:
        history = self._history[slot]
        if history is None:
            history = self._history[slot] = deque(maxlen=self._settings.slot_memory)
        history.extend(values)
        if len(history) >= self._settings.min_slot_samples:
            self._median[slot], self._scale[slot] = median_and_scale(history, self._settings.min_scale)
