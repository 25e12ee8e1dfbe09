"""The services' NATS connection: while traffic flows, what is published within a moment leaves
in one socket write.

nats.py writes to the socket as soon as its flusher task runs after a publish, so a service that
publishes from many tasks, each a moment apart, makes one `send` per message, and the server is
woken for each. On the small virtual machines the platform is sized for, such a wake-up costs
tens of microseconds in the writer and more in the server (a loopback write to a sleeping
reader measured about 40 µs here, the woken server about 60 µs). A contact is about 70 publishes
across the services, and nats-server spent two fifths of its CPU in the kernel.

So writes are spaced at least `window` apart: the first after a quiet spell leaves at once (an
idle service adds no delay), and while writes follow each other, what is published in the
meantime waits at most `window` and goes out in the next write, read by the server in one
wake-up. Every publish still leaves in order, and an explicit flush (`Client.flush`, a PING the
server answers) still waits for everything before it.

The price is latency: a request that follows its predecessor's reply within the window waits for
the rest of it. With the default, 3 ms, the platform bench's region took about 4% less CPU per
contact at 20 and at 50 new contacts/s (nats-server 10-18% less), for about 20 ms more to offer
a contact at 20/s; 10 ms took 13% less for about 110 ms more.

Near saturation the longer window carries more. In alternating runs of the platform bench at 75
new contacts/s on 2 cores, 10 ms offered every contact with an offer p99 of 290-420 ms in four
runs of five, at about 8% less CPU per contact; 3 ms fell behind in all six (p99 0.9-2.7 s) and
holds about 50/s. The price is paid at every load: about 80 ms more to offer a contact at 25/s
(p50 127 against 47 ms), and a chain of requests, each sent right after the previous reply, waits
up to a window per request. A region that must carry more per core sets
`CC_NATS_WRITE_WINDOW_SECONDS=0.01`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Any

from nats import errors
from nats.aio.client import PING_PROTO, Client
from nats.aio.msg import Msg

#: Shortest time between two socket writes of one connection while traffic flows.
DEFAULT_WRITE_WINDOW_SECONDS = 0.003


class GatheringClient(Client):
    """nats.py's client with its flusher spacing socket writes at least `window` apart.

    The flusher is nats.py's own loop (the pinned version's `_flusher`) with the spacing added
    and every kick queued meanwhile answered by the one write."""

    def __init__(self, window: float = DEFAULT_WRITE_WINDOW_SECONDS) -> None:
        super().__init__()
        if window < 0:
            raise ValueError(f"write window {window!r}: seconds, 0 or more")
        self._write_window = window
        self._last_write = -float("inf")
        self.writes = 0
        self._request_numbers = itertools.count()
        #: The subscription replies to requests arrive on (nats.py makes it on the first request).
        self._reply_sid: int | None = None

    async def _init_request_sub(self) -> None:
        await super()._init_request_sub()
        assert self._resp_sub_prefix
        wildcard = self._resp_sub_prefix.decode() + "*"
        self._reply_sid = next(sid for sid, sub in self._subs.items() if sub.subject == wildcard)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        if sid != self._reply_sid or self._resp_sub_prefix is None:
            await super()._process_msg(sid, subject, reply, data, headers)
            return
        # A reply to a request: straight to its waiter. nats.py queues it for the subscription's
        # task, which then looks the waiter up: a task switch more per request.
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        future = self._resp_map.get(subject[len(self._resp_sub_prefix) :].decode())
        if future is not None and not future.done():
            future.set_result(
                self._build_message(sid, subject, reply, data, await self._process_headers(headers))
            )

    async def _request_new_style(
        self,
        subject: str,
        payload: bytes,
        timeout: float = 1,
        headers: dict[str, Any] | None = None,
    ) -> Msg:
        # Every JetStream publish and KV read or write is a request. nats.py's names each reply
        # with a new NUID and two random bytes (a getrandom call) and waits with `wait_for`;
        # under the response subject this client chose at random a counter is unique enough,
        # and a timer does the waiting. With the direct reply below, a sixth less CPU per request.
        if self.is_draining_pubs:
            raise errors.ConnectionDrainingError
        if not self._resp_sub_prefix:
            await self._init_request_sub()
        assert self._resp_sub_prefix
        token = str(next(self._request_numbers))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._resp_map[token] = future
        timer = loop.call_later(timeout, expire, future)
        try:
            await self.publish(
                subject, payload, reply=self._resp_sub_prefix.decode() + token, headers=headers
            )
            return await future
        finally:
            timer.cancel()
            if self._resp_map.get(token) is future:
                del self._resp_map[token]

    async def _send_ping(self, future: asyncio.Future[Any] | None = None) -> None:
        # nats.py writes a PING past what is pending; here it queues behind it, so the PONG that
        # `flush()` waits for means that everything published before has reached the server.
        if future is None:
            future = asyncio.get_running_loop().create_future()
        self._pongs.append(future)
        self._pending.append(PING_PROTO)
        self._pending_data_size += len(PING_PROTO)
        await self._flush_pending()

    async def _process_connect_init(self) -> None:
        await super()._process_connect_init()
        # A PING still queued when the last connection dropped would go out on this one: its
        # waiter was dropped with that connection (nats.py starts `_pongs` afresh), so its PONG
        # would answer the next flush() before that flush's own PING had reached the server.
        stale = self._pending.count(PING_PROTO)
        if stale:
            self._pending = [command for command in self._pending if command != PING_PROTO]
            self._pending_data_size -= stale * len(PING_PROTO)

    async def _flusher(self) -> None:
        assert self._transport, "Client.connect must be called first"
        assert self._flush_queue, "Client.connect must be called first"
        queue = self._flush_queue
        while True:
            if not self.is_connected or self.is_connecting:
                break
            kicks: list[asyncio.Future[Any]] = [await queue.get()]
            try:
                since = time.monotonic() - self._last_write
                if since < self._write_window:
                    await asyncio.sleep(self._write_window - since)
                while not queue.empty():
                    kicks.append(queue.get_nowait())
                if self._pending_data_size > 0:
                    self._transport.writelines(self._pending[:])
                    self._pending = []
                    self._pending_data_size = 0
                    self._last_write = time.monotonic()
                    self.writes += 1
                    await self._transport.drain()  # type: ignore[no-untyped-call]
            except OSError as error:
                await self._error_cb(error)
                await self._process_op_err(error)
                break
            except (asyncio.CancelledError, RuntimeError, AttributeError):
                # RuntimeError when the loop is closed; what is pending is written by close().
                break
            finally:
                for kick in kicks:
                    if not kick.done():
                        kick.set_result(None)


def expire(future: asyncio.Future[Msg]) -> None:
    """A request's timer: its waiter fails with nats.py's TimeoutError (a builtin TimeoutError)."""
    if not future.done():
        future.set_exception(errors.TimeoutError)


async def connect(
    servers: Sequence[str], *, window: float = DEFAULT_WRITE_WINDOW_SECONDS, **options: Any
) -> Client:
    """`nats.connect` with the gathering client."""
    client = GatheringClient(window)
    await client.connect(list(servers), **options)
    return client
