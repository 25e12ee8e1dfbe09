"""The services' NATS connection against a real nats-server: writes gathered while traffic flows,
none held after a quiet spell, nothing lost or reordered, and `flush()` behind what was published."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import nats.errors
import pytest
from nats.aio.client import PING_PROTO
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccmesh.nats_connection import GatheringClient, connect

Connect = Callable[[float], Awaitable[GatheringClient]]


@pytest.fixture
async def gathering(nats_url: str) -> AsyncIterator[Connect]:
    opened: list[GatheringClient] = []

    async def open_one(window: float) -> GatheringClient:
        client = await connect([nats_url], window=window, connect_timeout=5, max_reconnect_attempts=3)
        assert isinstance(client, GatheringClient)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        await client.drain()


async def _trickle(client: GatheringClient, count: int) -> None:
    """One message each from its own turn of the loop, a millisecond or more apart."""
    for i in range(count):
        await client.publish("trickle", str(i).encode())
        await asyncio.sleep(0.001)


async def test_messages_a_moment_apart_leave_in_fewer_writes_all_of_them_in_order(
    nc: NATS, gathering: Connect
) -> None:
    seen: list[bytes] = []
    all_in = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        seen.append(msg.data)
        if len(seen) == 100:
            all_in.set()

    await nc.subscribe("trickle", cb=on_message)
    await nc.flush()
    at_once = await gathering(0.0)
    gathered = await gathering(0.05)

    writes_before = at_once.writes
    await _trickle(at_once, 50)
    await _trickle(gathered, 50)
    async with asyncio.timeout(10):
        await all_in.wait()

    # With no window each message is its own write; with one, the messages published within it
    # share one (fifty messages at least a millisecond apart take 50 ms or more: a few windows).
    assert at_once.writes - writes_before == 50
    assert gathered.writes <= 25
    # Nothing lost, each connection's messages in the order published (one after the other).
    expected = [str(i).encode() for i in range(50)]
    assert seen == expected + expected


async def test_a_message_after_a_quiet_spell_leaves_at_once_and_the_next_waits_its_window(
    nc: NATS, gathering: Connect
) -> None:
    inbox: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        inbox.put_nowait(msg.data)

    await nc.subscribe("quiet", cb=on_message)
    await nc.flush()
    client = await gathering(3.0)

    await client.publish("quiet", b"first")
    # Well inside the 3 s window: the first write after a quiet spell is not held.
    async with asyncio.timeout(1.5):
        assert await inbox.get() == b"first"

    await client.publish("quiet", b"second")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await inbox.get()
    # It leaves with the window's end, without anything else published.
    async with asyncio.timeout(10):
        assert await inbox.get() == b"second"


async def test_flush_returns_once_everything_published_before_it_reached_the_server(
    gathering: Connect,
) -> None:
    client = await gathering(0.2)
    sub = await client.subscribe("ordered")
    await client.flush()

    for round_ in range(3):
        await client.publish("ordered", f"{round_}".encode())
        await client.flush(timeout=5)
        # The server answered the PING after the message before it, on the same connection: the
        # message was read before the PONG.
        assert sub.pending_msgs == 1
        assert (await sub.next_msg(timeout=1)).data == f"{round_}".encode()


class DroppingProxy:
    """TCP between a client and nats-server that keeps what the client sent on each connection
    and can drop them all, as a network failure would."""

    def __init__(self, upstream: str) -> None:
        address = urlsplit(upstream)
        self._upstream = (address.hostname or "127.0.0.1", address.port or 4222)
        self.sent: list[bytearray] = []
        self._open: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"nats://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        record = bytearray()
        self.sent.append(record)
        self._open += [writer, upstream_writer]
        await asyncio.gather(
            _pipe(reader, upstream_writer, record), _pipe(upstream_reader, writer, bytearray())
        )

    def drop(self) -> None:
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter, record: bytearray) -> None:
    try:
        while data := await source.read(65536):
            record.extend(data)
            target.write(data)
            await target.drain()
    except ConnectionError:
        pass
    finally:
        target.transport.abort()


async def test_a_ping_queued_when_the_connection_dropped_is_not_sent_again_after_the_reconnect(
    nats_url: str,
) -> None:
    proxy = DroppingProxy(nats_url)
    reconnected = asyncio.Event()

    async def on_reconnected() -> None:
        reconnected.set()

    client = await connect(
        [await proxy.start()],
        window=1.0,
        reconnected_cb=on_reconnected,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=-1,
        connect_timeout=5,
    )
    try:
        await client.publish("dropped", b"first")  # leaves at once and opens a 1 s window
        waiting = asyncio.create_task(client.flush(timeout=2))  # its PING waits for the window
        await asyncio.sleep(0.1)
        proxy.drop()
        async with asyncio.timeout(20):
            await reconnected.wait()
        with contextlib.suppress(Exception):  # its answer was lost with the connection
            await waiting
        await client.flush(timeout=5)
        # On the new connection: CONNECT's PING, the reconnect's flush and this test's; the PING
        # of the flush begun on the old one is not sent again.
        assert len(proxy.sent) == 2
        assert bytes(proxy.sent[1]).count(PING_PROTO) == 3
    finally:
        await client.close()
        await proxy.close()


def test_a_negative_window_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"write window -0\.5"):
        GatheringClient(-0.5)


async def _ok(msg: Msg) -> None:
    await msg.respond(b"ok")


async def test_concurrent_requests_each_get_their_own_reply_and_leave_nothing_behind(
    gathering: Connect,
) -> None:
    server, client = await gathering(0.003), await gathering(0.003)

    async def echo(msg: Msg) -> None:
        await asyncio.sleep(0.001 * (int(msg.data) % 7))  # replies come back out of order
        await msg.respond(b"re " + msg.data)

    await server.subscribe("echo", cb=echo)
    await server.flush()
    replies = await asyncio.gather(*(client.request("echo", str(i).encode(), timeout=5) for i in range(300)))
    assert [reply.data for reply in replies] == [f"re {i}".encode() for i in range(300)]
    assert client._resp_map == {}


async def test_a_request_not_answered_in_time_fails_as_a_timeout_and_a_late_reply_is_dropped(
    gathering: Connect,
) -> None:
    server, client = await gathering(0.003), await gathering(0.003)
    held: list[Msg] = []

    async def hold(msg: Msg) -> None:
        held.append(msg)

    await server.subscribe("slow", cb=hold)
    await server.flush()
    with pytest.raises(nats.errors.TimeoutError):
        await client.request("slow", b"?", timeout=0.2)
    assert client._resp_map == {}
    await held[0].respond(b"too late")  # nobody waits for it any more
    await server.subscribe("fast", cb=_ok)
    await server.flush()
    assert (await client.request("fast", b"", timeout=5)).data == b"ok"
    assert client._resp_map == {}


async def test_a_cancelled_request_leaves_nothing_behind_and_the_next_one_works(gathering: Connect) -> None:
    server, client = await gathering(0.003), await gathering(0.003)
    held: list[Msg] = []
    arrived = asyncio.Event()

    async def hold(msg: Msg) -> None:
        held.append(msg)
        arrived.set()

    await server.subscribe("slow", cb=hold)
    await server.subscribe("fast", cb=_ok)
    await server.flush()
    waiting = asyncio.ensure_future(client.request("slow", b"?", timeout=30))
    await asyncio.wait_for(arrived.wait(), 5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert client._resp_map == {}
    await held[0].respond(b"after the cancel")
    assert (await client.request("fast", b"", timeout=5)).data == b"ok"
