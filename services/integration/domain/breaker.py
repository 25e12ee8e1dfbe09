"""A per-endpoint circuit breaker: stop hammering an endpoint that keeps failing, probe it now and then.

closed -> (threshold consecutive failures) -> open -> (cool-down elapsed) -> half-open: one probe;
success closes it, failure opens it again with a longer cool-down (doubling up to a ceiling).
Pure: the caller passes the clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BreakerState(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 1.0
    max_cooldown_seconds: float = 30.0
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    current_cooldown: float = 0.0
    probing: bool = False

    def wait_seconds(self, now: float) -> float:
        """0 when a request may go now (and, half-open, claims the one probe); else how long to wait."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        if self.state is BreakerState.OPEN:
            remaining = self.opened_at + self.current_cooldown - now
            if remaining > 0:
                return remaining
            self.state = BreakerState.HALF_OPEN
        if self.probing:
            return min(0.05, self.current_cooldown)
        self.probing = True
        return 0.0

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.current_cooldown = 0.0
        self.probing = False

    def record_failure(self, now: float) -> None:
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.probing = False
            self._open(now, min(self.current_cooldown * 2, self.max_cooldown_seconds))
        elif self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold:
            self._open(now, self.cooldown_seconds)

    def _open(self, now: float, cooldown: float) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.current_cooldown = max(cooldown, self.cooldown_seconds)
