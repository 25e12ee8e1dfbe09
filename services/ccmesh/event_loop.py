"""The event loop a service runs on: uvloop by default, asyncio's own on request.

A service's work is many small steps (a NATS message in, a KV write, a publish out), so a good
share of its CPU is the loop itself: scheduling callbacks and timers, reading and writing
sockets. uvloop does that in C on libuv. `CC_EVENT_LOOP=asyncio` runs the standard library's
loop instead (to rule the loop out when something misbehaves). In the platform bench's region
at 20 new contacts/s, uvloop took 12% less CPU per contact (55.0 against 63.0 ms, two runs of
each) and offered a contact in 44 ms at the median against 59.

Both are the same asyncio API, with one difference services meet: libuv leaves a descriptor it
has watched (`loop.add_reader`) in non-blocking mode, so code that hands a descriptor to the
loop and then uses it with blocking calls sets it back (see the ai service's inference pool).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")

EventLoopName = Literal["uvloop", "asyncio"]
DEFAULT_EVENT_LOOP: EventLoopName = "uvloop"


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"event loop {name!r}: 'uvloop' or 'asyncio'")


def run(main: Coroutine[Any, Any, T], name: EventLoopName = DEFAULT_EVENT_LOOP) -> T:
    """`asyncio.run(main)` on the named loop."""
    factory = loop_factory(name)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
