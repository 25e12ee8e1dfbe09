"""`event_or_timeout` answers whether the event was set, and lets a cancellation through even
when it arrives in the turn the event is set (where Python 3.11's `wait_for` swallows it)."""

from __future__ import annotations

import asyncio

import pytest

from ccmesh.waiting import event_or_timeout


async def test_it_answers_set_or_timed_out() -> None:
    event = asyncio.Event()
    assert await event_or_timeout(event, 0.01) is False
    event.set()
    assert await event_or_timeout(event, 5.0) is True


async def test_a_cancellation_meeting_the_event_is_not_swallowed() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(event_or_timeout(event, 60.0))
    await asyncio.sleep(0.01)
    event.set()  # wakes the waiter in the same turn as the cancel below
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
