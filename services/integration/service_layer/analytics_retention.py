"""The analytics store keeps a region's contacts for its retention period, no longer.

Rows are partitioned by the UTC day the contact arrived, so expiry removes whole days: a day
goes once all of it is older than the period (a contact is kept at least the period, at most a
day more). Run at start and then periodically; what is removed is logged by day. Each sweep
then runs the store's other upkeep (`then`: keeping recent days' first-contact resolution
ready, so the first report of the month does not compute it while its caller waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)

#: How often expired days are looked for.
SWEEP_SECONDS = 3600.0


class ExpiringStore(Protocol):
    async def expire_before(self, day: str) -> list[str]:
        """Remove the days before `day` (YYYY-MM-DD); the days removed."""
        ...


def first_kept_day(now: float, retention_days: int) -> str:
    """The oldest day (UTC) still inside the period: every instant of the days before it is
    more than `retention_days` old."""
    return datetime.fromtimestamp(now - retention_days * 86_400, UTC).date().isoformat()


class AnalyticsRetention:
    def __init__(
        self,
        store: ExpiringStore,
        retention_days: int,
        *,
        clock: Callable[[], float] = time.time,
        sweep_seconds: float = SWEEP_SECONDS,
        then: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        if retention_days < 1:
            raise ValueError(f"analytics retention: at least 1 day, got {retention_days}")
        self._store = store
        self._days = retention_days
        self._clock = clock
        self._sweep = sweep_seconds
        self._then = then
        self._task: asyncio.Task[None] | None = None

    async def expire(self) -> list[str]:
        removed = await self._store.expire_before(first_kept_day(self._clock(), self._days))
        if removed:
            log.info("analytics: days past the %d-day retention removed: %s", self._days, ", ".join(removed))
        return removed

    async def sweep(self) -> None:
        await self.expire()
        if self._then is not None:
            await self._then()

    async def start(self) -> None:
        await self.expire()  # before the first report; the rest of the upkeep in the background
        self._task = asyncio.create_task(self._run(), name="analytics-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        pause = 0.0
        while True:
            await asyncio.sleep(pause)
            pause = self._sweep
            try:
                await self.sweep()
            except Exception:
                log.warning("analytics: expiry failed; tried again in %.0fs", self._sweep, exc_info=True)
