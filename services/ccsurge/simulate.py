"""Synthetic contact-center traffic with weekday and time-of-day seasonality (numpy, seeded).

Arrivals per interval are Poisson around a weekly profile: quiet nights, a morning ramp, a
late-morning and an afternoon peak, a thinner Friday and a quiet weekend. Scenarios multiply
the rate over a window: a burst (10x for 20 minutes), a slow ramp (to 2x over an hour), an
outage upstream (nothing arrives). The tests and `bench/surge` judge the detector on these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEEK_SECONDS = 7 * 86_400
#: Monday 2026-11-02 00:00 UTC: simulated weeks start on a Monday midnight.
MONDAY = 1_793_577_600.0
#: Monday..Sunday volume relative to a midweek day.
WEEKDAY_FACTORS = (1.1, 1.0, 1.0, 1.0, 0.9, 0.45, 0.35)


def rate_per_minute(at: np.ndarray, peak: float = 20.0, night: float = 0.5) -> np.ndarray:
    """The expected arrivals per minute at each time (seconds since the epoch, UTC)."""
    days = np.floor(at / 86_400)
    weekday = ((days + 3) % 7).astype(np.int64)
    hour = (at - days * 86_400) / 3600.0
    bumps = np.exp(-(((hour - 10.5) / 2.0) ** 2)) + 0.8 * np.exp(-(((hour - 15.0) / 2.5) ** 2))
    rate: np.ndarray = (night + (peak - night) * bumps / 1.05) * np.asarray(WEEKDAY_FACTORS)[weekday]
    return rate


@dataclass(frozen=True)
class Change:
    """The rate times `factor` from `start` for `seconds`; `ramp`: rises linearly from 1x to
    `factor` over the window and holds there until `hold` seconds after it."""

    start: float
    seconds: float
    factor: float
    ramp: bool = False
    hold: float = 0.0

    def multiplier(self, at: np.ndarray) -> np.ndarray:
        inside = (at >= self.start) & (at < self.start + self.seconds)
        if not self.ramp:
            return np.where(inside, self.factor, 1.0)
        progress = np.clip((at - self.start) / self.seconds, 0.0, 1.0)
        ramped = 1.0 + (self.factor - 1.0) * progress
        live = (at >= self.start) & (at < self.start + self.seconds + self.hold)
        return np.where(live, ramped, 1.0)


def traffic(
    start: float,
    weeks: float,
    *,
    seed: int,
    interval_seconds: float = 60.0,
    changes: tuple[Change, ...] = (),
    peak: float = 20.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(interval end times, arrivals per interval) for `weeks` weeks from `start`."""
    count = round(weeks * WEEK_SECONDS / interval_seconds)
    ends = start + interval_seconds * np.arange(1, count + 1, dtype=np.float64)
    middles = ends - interval_seconds / 2
    expected = rate_per_minute(middles, peak) * (interval_seconds / 60.0)
    for change in changes:
        expected = expected * change.multiplier(middles)
    arrivals = np.random.default_rng(seed).poisson(expected).astype(np.float64)
    return ends, arrivals
