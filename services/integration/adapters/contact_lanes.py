"""Feed one subscription's events to its delivery, in order per contact, and acknowledge them.

A fetched batch is split by contact into lanes: contacts are handled concurrently, each
contact's events one after the other, and fetching goes on while earlier events are still being
handled (up to `max_in_flight` unacknowledged). A message is acknowledged only after the handler
returned for it; while it is in hand, JetStream is told it is in progress, so the messages
waiting behind a retry are not redelivered. When an acknowledgement fails (e.g. the connection
went), the lanes are dropped and the feed reopened at its ack floor, so no later event of a
contact overtakes an unacknowledged earlier one.

The handler sees plain values (the subject and the message's bytes), never a NATS message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg

from integration.adapters.event_feed import EventFeed, contact_of

log = logging.getLogger(__name__)

#: Handles one event: its subject and serialized bytes; returns once its outcome is settled.
Settle = Callable[[str, bytes], Awaitable[None]]


class ContactLanes:
    def __init__(
        self, feed: EventFeed, *, name: str, batch: int, max_in_flight: int, ack_wait_seconds: float
    ) -> None:
        self._feed = feed
        self._name = name
        self._batch = batch
        self._max_in_flight = max_in_flight
        self._ack_wait_seconds = ack_wait_seconds
        self._settle: Settle | None = None
        self._task: asyncio.Task[None] | None = None
        #: Messages taken from the feed and not yet acknowledged, by id().
        self._pending: dict[int, Msg] = {}
        #: Per contact, its messages in stream order; a lane task drains each non-empty one.
        self._lanes: dict[str, deque[Msg]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._failure: BaseException | None = None
        self._stopping = False

    async def start(self, settle: Settle) -> None:
        self._settle = settle
        await self._feed.open()
        self._task = asyncio.create_task(self._run(), name=f"deliver-{self._name}")

    async def stop(self, *, delete_consumer: bool = False) -> None:
        # The flag as well as the cancel: a read that drops a cancellation landing as its reply
        # arrives (asyncio.wait_for on Python 3.11 does) would leave the loop fetching; the
        # flag ends it after that read.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_lanes()
        if delete_consumer:
            await self._feed.delete()
        else:
            await self._feed.close()

    async def _run(self) -> None:
        keep_alive = asyncio.create_task(self._keep_alive())
        try:
            while not self._stopping:
                await self._take_more()
        finally:
            keep_alive.cancel()

    async def _take_more(self) -> None:
        """Fetch while there is room; hand each message to its contact's lane."""
        if self._failure is not None:
            log.warning("delivery failed for %s; reopening: %r", self._name, self._failure)
            await self._drop_lanes()
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                await self._feed.open()
            return
        room = self._max_in_flight - len(self._pending)
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return
        try:
            messages = await self._feed.fetch(min(self._batch, room))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("fetch failed for subscription %s; retrying", self._name, exc_info=True)
            await asyncio.sleep(0.5)
            return
        for message in messages:
            self._pending[id(message)] = message
            contact = contact_of(message)
            lane = self._lanes.get(contact)
            if lane is not None:
                lane.append(message)
                continue
            self._lanes[contact] = deque([message])
            task = asyncio.create_task(self._drain(contact))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)

    async def _drain(self, contact: str) -> None:
        """Handle one contact's messages one after the other; the lane ends when it is empty."""
        assert self._settle is not None
        lane = self._lanes[contact]
        try:
            while lane:
                message = lane[0]
                await self._settle(message.subject, message.data)
                await message.ack()
                lane.popleft()
                self._pending.pop(id(message), None)
                self._room.set()
            # No await between the emptiness check and this: nothing can be appended in between.
            del self._lanes[contact]
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failure = error
            self._room.set()  # wake the fetch loop, which reopens the feed

    async def _drop_lanes(self) -> None:
        tasks = list(self._lane_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        self._pending.clear()
        self._failure = None

    async def _keep_alive(self) -> None:
        """Tell JetStream that messages waiting behind a retry are in progress, not lost."""
        while True:
            await asyncio.sleep(self._ack_wait_seconds / 3)
            for message in list(self._pending.values()):
                with contextlib.suppress(Exception):
                    await message.in_progress()
