"""Waiting for an event, at most a while, without losing a cancellation.

On Python 3.11 `asyncio.wait_for(event.wait(), seconds)` swallows a cancellation that arrives in
the same turn as the event is set: the waiter returns as if woken, and a loop that only a cancel
ends (a `stop()` that cancels it and waits for it) runs on, so the stop never returns. That hung
routing's ACD loop and its journey-deadline keeper at shutdown now and then. `asyncio.timeout`
passes the cancellation on.
"""

from __future__ import annotations

import asyncio
import contextlib


async def event_or_timeout(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; whether it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    return event.is_set()
