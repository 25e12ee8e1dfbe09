"""Reading what a stream holds ends where the stream ends, not at the first quiet fetch."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api

from ccmesh import stream_read

pytestmark = pytest.mark.timeout(60)
STREAM = "READ"


async def _stream_with(nc: NATS, count: int) -> None:
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name=STREAM, subjects=["read.>"]))
    for n in range(count):
        await js.publish(f"read.{'even' if n % 2 == 0 else 'odd'}", str(n).encode())


async def _consumers(nc: NATS) -> int:
    return int((await nc.jetstream().stream_info(STREAM)).state.consumer_count)


class _BusyServer:
    """The real JetStream, whose every other fetch comes back empty before asking the server:
    what a fetch on a busy server looks like to the reader (its wait over, nothing arrived)."""

    def __init__(self, js: Any) -> None:
        self._js = js
        self.empty_fetches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def pull_subscribe(self, *args: Any, **kwargs: Any) -> Any:
        subscription = await self._js.pull_subscribe(*args, **kwargs)
        real_fetch = subscription.fetch
        calls = 0

        async def fetch(batch: int, timeout: float) -> Any:
            nonlocal calls
            calls += 1
            if calls % 2:
                self.empty_fetches += 1
                raise NatsTimeoutError
            return await real_fetch(batch, timeout=timeout)

        subscription.fetch = fetch
        return subscription


async def test_every_matching_message_in_order_though_fetches_come_back_empty(nc: NATS) -> None:
    await _stream_with(nc, 700)
    busy: Any = _BusyServer(nc.jetstream())
    read = [int(m.data) async for m in stream_read.stored(busy, "read.even", stream=STREAM, batch=64)]
    assert read == list(range(0, 700, 2))
    assert busy.empty_fetches > 1
    assert await _consumers(nc) == 0


async def test_nothing_stored_is_an_empty_read_and_a_reader_stopping_early_leaves_no_consumer(
    nc: NATS,
) -> None:
    await _stream_with(nc, 10)
    assert [m async for m in stream_read.stored(nc.jetstream(), "read.none", stream=STREAM)] == []
    messages = stream_read.stored(nc.jetstream(), "read.>", stream=STREAM, batch=4)
    async with contextlib.aclosing(messages):
        first = [int((await anext(messages)).data) for _ in range(3)]
    assert first == [0, 1, 2]
    assert await _consumers(nc) == 0
