"""Throttle for batch work: at most `concurrency` contacts at once, started no faster than
`rate` per second, so the inference workers keep room for live messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Throttle:
    def __init__(
        self,
        rate_per_second: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"batch rate must be above 0 contacts per second, not {rate_per_second}")
        if concurrency < 1:
            raise ValueError(f"batch concurrency must be at least 1, not {concurrency}")
        self._interval = 1.0 / rate_per_second
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._sleep = sleep
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                now = self._clock()
                wait = self._next_start - now
                self._next_start = max(now, self._next_start) + self._interval
            if wait > 0:
                await self._sleep(wait)  # type: ignore[misc]
            yield
