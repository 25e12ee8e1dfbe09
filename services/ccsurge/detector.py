"""The streaming detector: one signal's observations in, one `Assessment` per observation out.

For each observation (a value at the end of an interval):

1. its seasonal baseline and scale (`ccsurge.baseline`), in the transformed unit;
2. the robust score z = (value - baseline) / scale, times the sensitivity;
3. two sustained-shift statistics on the score clipped to +-`clip`: an EWMA (a moderate shift
   held for a few intervals) and a two-sided CUSUM (a small shift held for long, a slow ramp);
4. the observation is anomalous upwards when z, the EWMA or the upper CUSUM passes its alarm
   level (downwards alike), in the directions the settings watch;
5. an anomaly that lasts `min_duration_seconds` becomes an alert; an alert clears once the score
   and the EWMA have been back under their (lower) clear levels, on the alert's side, for
   `clear_duration_seconds`, and then the EWMA and CUSUM restart from zero.

Without a trusted seasonal slot (cold start) the baseline is the recent level (see
`ccsurge.baseline`); the statistics work the same against it, so a fresh platform still notices
a queue filling up over a few intervals, none of which is extreme alone. The first few
observations of a signal (`cold_min_samples`), judged only against the configured guess
(`cold_start_baseline`), teach and never alert.
Each observation is learned, clipped to +-`clip` scales around its seasonal baseline, so a surge
in the history barely moves the baseline a later week is judged against.
A NaN value (nothing to measure, e.g. a service level with no contact counted) changes nothing
and is assessed with score 0 and the alert as it stands.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccsurge.assessment import Assessment, SurgeKey, SurgeMetric
from ccsurge.baseline import SeasonalBaseline, transform, untransform, week_position
from ccsurge.settings import DetectorSettings, settings_for


class Detector:
    __slots__ = (
        "_anomaly_since",
        "_calm_since",
        "_clear",
        "_ewma_clear",
        "_ewma_threshold",
        "_last_at",
        "_threshold",
        "alert",
        "alert_started_at",
        "baseline",
        "cusum_down",
        "cusum_up",
        "direction",
        "ewma",
        "key",
        "metric",
        "settings",
    )

    def __init__(self, key: SurgeKey, metric: SurgeMetric, settings: DetectorSettings | None = None) -> None:
        self.key = key
        self.metric = metric
        self.settings = settings = settings or settings_for(metric)
        self.baseline = SeasonalBaseline(settings)
        self.alert = False
        #: When the current alert rose (the observation's `at`); None while not alerting.
        self.alert_started_at: float | None = None
        #: +1 / -1 while alerting (which way the signal left normal), else 0.
        self.direction = 0
        self.ewma = 0.0
        self.cusum_up = 0.0
        self.cusum_down = 0.0
        self._last_at: float | None = None
        self._anomaly_since: float | None = None
        self._calm_since: float | None = None
        self._threshold = settings.threshold
        self._clear = settings.clear_threshold
        self._ewma_threshold = settings.ewma_threshold
        # Three quarters of the alarm level: low enough to be a hysteresis, high enough that an
        # EWMA still draining a burst does not hold the alert long after the burst ended.
        self._ewma_clear = settings.ewma_threshold * 0.75

    def observe(self, at: float, value: float) -> Assessment:
        """Judge `value`, measured over the interval ending at `at` (seconds since the epoch);
        observations must come in time order."""
        score, level = self.step(at, value)
        return Assessment(
            key=self.key,
            metric=self.metric,
            at=at,
            value=value,
            baseline=untransform(level, self.settings.counts),
            score=score,
            alert=self.alert,
            direction=self.direction,
        )

    def step(self, at: float, value: float) -> tuple[float, float]:
        """`observe` without building the Assessment: (score, baseline in the transformed
        unit); the verdict is in `alert` and `direction`."""
        settings = self.settings
        position = week_position(at, settings.utc_offset_seconds)
        baseline = self.baseline
        expected, scale = baseline.expected(position)
        last_at = self._last_at
        if last_at is not None and at < last_at:
            raise ValueError(f"observation at {at} is older than the previous one at {last_at}")
        if value != value:  # NaN: nothing measured in this interval
            return 0.0, expected
        self._last_at = at
        step = 0.0 if last_at is None else at - last_at
        level = transform(value, settings.counts)
        z = (level - expected) / scale * settings.sensitivity
        clip = settings.clip
        clipped = clip if z > clip else -clip if z < -clip else z
        if baseline.guessed:
            # A signal's first observations only teach: judged against a guess, a queue that is
            # simply busy when routing starts would look like a surge.
            ewma = 0.0
            rising = falling = False
        else:
            ewma = self.ewma = self.ewma + settings.ewma_weight * (clipped - self.ewma)
            h = settings.cusum_threshold
            up = self.cusum_up + clipped - settings.cusum_allowance
            down = self.cusum_down - clipped - settings.cusum_allowance
            # Held at the alarm level: a shift that ended stops counting at once.
            up = self.cusum_up = 0.0 if up < 0.0 else h if up > h else up
            down = self.cusum_down = 0.0 if down < 0.0 else h if down > h else down
            watched = settings.direction
            rising = watched >= 0 and (z >= self._threshold or ewma >= self._ewma_threshold or up >= h)
            falling = watched <= 0 and (z <= -self._threshold or ewma <= -self._ewma_threshold or down >= h)
        if not self.alert:
            if rising or falling:
                if self._anomaly_since is None:
                    self._anomaly_since = at - step
                if at - self._anomaly_since >= settings.min_duration_seconds:
                    self.alert = True
                    self.alert_started_at = at
                    self.direction = 1 if rising else -1
                    self._calm_since = None
            else:
                self._anomaly_since = None
        else:
            # The CUSUM is not asked: held at its alarm level, it would keep a cleared surge alive
            # for as long as a slight bias takes to drain it; it restarts from zero on release.
            # Calm is judged on the alert's own side: a queue drained below the level a long
            # rise lifted is that rise over, not a surge going on (a fall alerts on its own).
            if self.direction > 0:
                calm = z < self._clear and ewma < self._ewma_clear
            else:
                calm = z > -self._clear and ewma > -self._ewma_clear
            if calm:
                if self._calm_since is None:
                    self._calm_since = at - step
                if at - self._calm_since >= settings.clear_duration_seconds:
                    self._release()
            else:
                self._calm_since = None
        kept = level
        if not baseline.guessed:
            # Against the cold-start guess the bound would be as arbitrary as the guess.
            bound = clip * scale
            if level > expected + bound:
                kept = expected + bound
            elif level < expected - bound:
                kept = expected - bound
        baseline.learn(position, kept)
        return z, expected

    def _release(self) -> None:
        self.alert = False
        self.alert_started_at = None
        self.direction = 0
        self.ewma = self.cusum_up = self.cusum_down = 0.0
        self._anomaly_since = self._calm_since = None

    def learn_history(
        self, timestamps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
    ) -> None:
        """Seed the seasonal baseline with past observations (oldest first) without judging
        them; NaN values are skipped."""
        at = np.asarray(timestamps, dtype=np.float64)
        raw = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(raw)
        at, raw = at[keep], raw[keep]
        if not len(at):
            return
        offset = self.settings.utc_offset_seconds
        positions = [week_position(float(t), offset) for t in at]
        levels = 2.0 * np.sqrt(np.maximum(raw, 0.0) + 0.375) if self.settings.counts else raw
        self.baseline.fit(positions, levels)
