"""Stopping a subscription's lanes ends its fetch loop even when a fetch swallows the cancellation."""

from __future__ import annotations

import asyncio

from integration.adapters.contact_lanes import ContactLanes


class CancelSwallowingFeed:
    """A feed whose fetch, once, returns normally when cancelled: what nats-py's fetch does on
    Python 3.11 when the cancellation lands as the server's reply arrives (asyncio.wait_for)."""

    def __init__(self) -> None:
        self.fetches = 0
        self.fetching = asyncio.Event()
        self.swallowed = 0
        self.closed = False

    async def open(self) -> None:
        return None

    async def fetch(self, batch: int, timeout: float = 0.5) -> list[object]:
        self.fetches += 1
        self.fetching.set()
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1
        return []

    async def close(self) -> None:
        self.closed = True


async def settle(subject: str, data: bytes) -> None:
    raise AssertionError("no message was fetched")


async def test_stop_returns_and_closes_the_feed_when_a_fetch_swallowed_the_cancellation() -> None:
    feed = CancelSwallowingFeed()
    lanes = ContactLanes(feed, name="acme-crm", batch=16, max_in_flight=64, ack_wait_seconds=30.0)  # type: ignore[arg-type]
    await lanes.start(settle)
    await feed.fetching.wait()

    stopping = asyncio.create_task(lanes.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)

    assert feed.swallowed == 1
    assert stopping in done, "stop() still waits for a fetch loop that goes on fetching"
    assert feed.closed
    assert feed.fetches == 1
