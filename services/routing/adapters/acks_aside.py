"""Publishes whose acknowledgement is awaited aside: the writer goes on, and a stopping service
waits for them (`settle`) rather than leaving their messages to another instance's sweeper.

Each one's message is also in its record's outbox (`ccmesh.outbox`), so a publish that fails
here only leaves it to the sweeper; the work handed in reports its own failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class AcksAside:
    def __init__(self) -> None:
        #: Held here, so a running wait is not collected.
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
