"""Deadlines of journey waits stored at integration nodes, ended once whichever instance is alive.

A journey whose step waits longer than the call that ran it (a payment, a sign-off) is stored
waiting at the node, with its deadline in the journey (`wait_until`) and in an index of pending
deadlines (`DeadlineIndex`, one entry per journey). Every routing instance follows that index
(what is pending when it starts, then every change any instance makes) into a heap ordered by
due time and sleeps until the earliest one: a tick costs the deadlines due, not the journeys
ever stored. At a deadline every instance holding it tries to end the wait; the journey is
written with the revision it was read at, so exactly one of them continues it and the others
find it moved on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from ccmesh.waiting import event_or_timeout
from routing.domain.wait_deadlines import DeadlineHeap, WaitDeadline

log = logging.getLogger(__name__)

#: Longest sleep between two looks at the heap (a deadline armed meanwhile also wakes it).
LONGEST_SLEEP_SECONDS = 1.0
#: Delay before a deadline whose ending failed (the store unreachable) is tried again.
RETRY_SECONDS = 2.0


class DeadlineIndex(Protocol):
    """Pending deadlines shared by every instance of the region (one per journey)."""

    async def put(self, deadline: WaitDeadline) -> None: ...

    async def remove(self, deadline: WaitDeadline) -> None:
        """Remove the journey's entry if it is still for this deadline's wait point (a newer
        wait's entry stays)."""

    async def follow(self, arm: Callable[[WaitDeadline], None], disarm: Callable[[str, str], None]) -> None:
        """Call `arm` for every pending deadline, then for every one put and `disarm(tenant,
        journey)` for every one removed; returns once the pending ones have been delivered."""

    async def stop(self) -> None: ...


class DeadlineKeeper:
    """Follows the shared index (when there is one) and hands each deadline to `end` when due."""

    def __init__(
        self,
        index: DeadlineIndex | None,
        end: Callable[[WaitDeadline], Awaitable[None]],
        *,
        now: Callable[[], float] = time.time,
        longest_sleep: float = LONGEST_SLEEP_SECONDS,
    ) -> None:
        self._index = index
        self._end = end
        self._now = now
        self._longest_sleep = longest_sleep
        self._heap = DeadlineHeap()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._following = False
        self._stopped = False

    @property
    def pending(self) -> int:
        return len(self._heap)

    async def start(self) -> None:
        """Arm every pending deadline of the region (ending those already due), then follow."""
        if self._index is not None and not self._following:
            self._following = True
            await self._index.follow(self.arm, self._heap.disarm)
        self._run_soon()

    async def hold(self, deadline: WaitDeadline) -> None:
        """Record a new deadline in the shared index (before its journey is saved: an entry
        whose journey did not change is dropped at its due time; a journey whose entry was never
        written would wait forever), and arm it here at once."""
        if self._index is not None:
            await self._index.put(deadline)
        self.arm(deadline)

    async def forget(self, deadline: WaitDeadline) -> None:
        """The wait ended (or moved on): drop its deadline here and from the shared index."""
        self._heap.drop(deadline)
        if self._index is not None:
            await self._index.remove(deadline)

    def arm(self, deadline: WaitDeadline) -> None:
        self._heap.arm(deadline)
        self._wake.set()
        self._run_soon()

    def _run_soon(self) -> None:
        if self._stopped:
            return  # stopping: the deadlines are the other instances' (or the next start's) now
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: start() arms it later
                self._task = asyncio.get_running_loop().create_task(self._run(), name="journey-deadlines")

    async def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            for deadline in self._heap.pop_due(self._now()):
                try:
                    await self._end(deadline)
                except Exception as error:  # the store unreachable: the wait is ended a bit later
                    log.warning(
                        "journey %s: ending its wait at %s failed (%s); trying again",
                        deadline.journey_id,
                        deadline.node,
                        error,
                    )
                    self._heap.arm(replace(deadline, due_at=self._now() + RETRY_SECONDS))
            next_due = self._heap.next_due()
            sleep = self._longest_sleep if next_due is None else next_due - self._now()
            await event_or_timeout(self._wake, min(sleep, self._longest_sleep))

    async def stop(self) -> None:
        self._stopped = True
        if self._index is not None and self._following:
            await self._index.stop()
            self._following = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
