"""Hostile traffic at the real gateway's HTTP edge: floods, slow clients, oversized heads.

- An unsigned flood at an endpoint spends only its source's small budget for unproven
  requests: every signed request of the real provider, from the same address, is accepted
  and on the stream, and the endpoint's own limit still answers 429 with Retry-After.
- Slow clients are closed by the server: a head trickled byte by byte (slow loris), a body
  that never finishes. Waits are generous bounds, never a measure of speed.
- A head over the size limits is answered 400 with exactly one access-log line and no
  traceback or ERROR record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import aiohttp
import orjson
import pytest
from _gateway_http import (
    ENDPOINTS,
    apply_endpoints,
    channel_endpoint,
    http_gateway,
    stream_events,
)
from _platform import Platform, eventually

pytestmark = pytest.mark.timeout(180)

#: Far longer than any limit configured below: only a server that never closes would reach it.
CLOSE_BOUND_SECONDS = 60.0

FLOODED_SECRET = "flooded-signing-secret-0123"
FLOODED = channel_endpoint(
    "t-flooded",
    channel="api",
    provider="generic",
    address="partner-flooded",
    queue="support",
    generic={"signingSecret": FLOODED_SECRET},
    # No refill to speak of during the test: the burst is exactly what signed traffic may use.
    rateLimit={"perSecond": 0.01, "burst": 30},
)
SIGNED = 30
FLOOD = 200
UNVERIFIED_BURST = 5


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def parsed(self) -> list[dict[str, object]]:
        return [orjson.loads(line) for line in self.lines]


@pytest.fixture
def access_lines() -> Iterator[Collected]:
    collected = Collected()
    logger = logging.getLogger("gateway.access")
    logger.addHandler(collected)
    try:
        yield collected
    finally:
        logger.removeHandler(collected)


def message(index: int) -> bytes:
    return orjson.dumps(
        {"from": {"kind": "phone", "value": f"+4477009{index:05d}"}, "providerMessageId": f"FLOOD-OK-{index}"}
    )


async def test_an_unsigned_flood_does_not_starve_signed_requests_from_the_same_address(
    platform: Platform, access_lines: Collected
) -> None:
    await apply_endpoints(platform, *ENDPOINTS, FLOODED)
    await platform.start("identity")
    settings = {"http_unverified_per_second": 0.01, "http_unverified_burst": UNVERIFIED_BURST}
    async with (
        http_gateway(platform, **settings) as gateway,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as attacker,
    ):
        url = gateway.url("/v1/generic/t-flooded/messages")
        flood_statuses: list[int] = []
        retry_afters: list[str] = []

        async def unsigned(index: int) -> None:
            # Half carry no signature at all, half a made-up one.
            headers = {"Content-Type": "application/json"}
            if index % 2:
                headers |= {"X-CC-Timestamp": "1700000000", "X-CC-Signature": "sha256=" + "0" * 64}
            async with attacker.post(url, data=message(10_000 + index), headers=headers) as response:
                flood_statuses.append(response.status)
                if response.status == 429:
                    retry_afters.append(response.headers.get("Retry-After", ""))

        async def flood() -> None:
            await asyncio.gather(*(unsigned(index) for index in range(FLOOD)))

        async def provider() -> list[tuple[int, str]]:
            answers = []
            for index in range(SIGNED):
                async with await gateway.generic(
                    "t-flooded", message(index), secret=FLOODED_SECRET
                ) as response:
                    body = await response.json()
                    answers.append((response.status, body.get("messageId", "")))
                await asyncio.sleep(0)
            return answers

        _, answers = await asyncio.gather(flood(), provider())

        # Every signed request was accepted, each a message of its own.
        assert [status for status, _ in answers] == [201] * SIGNED
        assert len({message_id for _, message_id in answers}) == SIGNED
        # The flood spent its source's budget, never the endpoint's: nothing of it got in.
        assert len(flood_statuses) == FLOOD
        assert set(flood_statuses) <= {401, 429}
        assert flood_statuses.count(401) <= UNVERIFIED_BURST + 1
        assert retry_afters and all(int(value) >= 1 for value in retry_afters)
        # The endpoint's bucket counted the signed requests alone: the next one is over it.
        async with await gateway.generic("t-flooded", message(SIGNED), secret=FLOODED_SECRET) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert "t-flooded" in (await response.json())["error"]["message"]

        # Nothing accepted was lost: each signed message is on the stream, and nothing else.
        received = {
            event.message_received.provider_message_id
            for event in await stream_events(platform)
            if event.WhichOneof("payload") == "message_received"
        }
        assert received == {f"FLOOD-OK-{index}" for index in range(SIGNED)}

        # One access line per request, refused or not.
        def webhook_lines() -> list[dict[str, object]]:
            return [
                line for line in access_lines.parsed() if line["route"] == "/v1/generic/{endpoint}/messages"
            ]

        async def all_logged() -> bool:
            return len(webhook_lines()) >= FLOOD + SIGNED + 1

        await eventually(all_logged)
        lines = webhook_lines()
        assert len(lines) == FLOOD + SIGNED + 1
        assert sum(1 for line in lines if line["status"] == 201) == SIGNED


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection."""
    received = b""
    async with asyncio.timeout(CLOSE_BOUND_SECONDS):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


async def _trickle(writer: asyncio.StreamWriter, pieces: Iterator[bytes], every: float) -> None:
    """Sends one piece at a time until the server closes the connection."""
    with contextlib.suppress(ConnectionError):
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every)
            if writer.is_closing():
                return


def _endless_headers(index: int) -> Iterator[bytes]:
    yield b"POST /v1/generic/t-generic/messages HTTP/1.1\r\nHost: gateway\r\n"
    count = 0
    while True:
        count += 1
        yield f"X-Slow-{index}-{count}: still typing\r\n".encode()


async def test_slow_loris_connections_are_closed_by_the_server(platform: Platform) -> None:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform, http_idle_seconds=1.0) as gateway:
        port = int(gateway.base.rsplit(":", 1)[1])
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(30)]
        tricklers = [
            asyncio.create_task(_trickle(writer, _endless_headers(index), every=0.2))
            for index, (_, writer) in enumerate(connections)
        ]
        try:
            answers = await asyncio.gather(*(_closed_by_server(reader) for reader, _ in connections))
        finally:
            for task in tricklers:
                task.cancel()
            for _, writer in connections:
                writer.close()
        # Closed without an answer: no request ever reached a route.
        assert answers == [b""] * len(connections)
        # The gateway still serves.
        async with await gateway.generic("t-generic", message(1)) as response:
            assert response.status == 201


async def test_a_body_that_never_finishes_is_answered_408_and_closed(
    platform: Platform, access_lines: Collected
) -> None:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform, http_body_seconds=1.0) as gateway:
        port = int(gateway.base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            b"POST /v1/generic/t-generic/messages HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        writer.write(head)
        trickler = asyncio.create_task(_trickle(writer, iter([b" "] * 1000), every=0.2))
        try:
            answer = await _closed_by_server(reader)
        finally:
            trickler.cancel()
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"not received within 1 s" in answer
        async with await gateway.generic("t-generic", message(2)) as response:
            assert response.status == 201

    refused = [line for line in access_lines.parsed() if line["status"] == 408]
    assert len(refused) == 1
    assert refused[0]["error"] == "DEADLINE_EXCEEDED"


OVERSIZED = {
    "header line": b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
    "request line": b"GET /healthz?" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: gateway\r\n\r\n",
    "too many headers": b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n"
    + b"".join(f"X-H{index}: a\r\n".encode() for index in range(200))
    + b"\r\n",
}


async def test_oversized_heads_get_400_with_one_access_line_and_no_traceback(
    platform: Platform, access_lines: Collected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await apply_endpoints(platform, *ENDPOINTS)
    async with http_gateway(platform) as gateway:
        port = int(gateway.base.rsplit(":", 1)[1])
        before = len(access_lines.lines)

        async def send(raw: bytes) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(raw)
                await writer.drain()
                return await _closed_by_server(reader)
            finally:
                writer.close()

        # A burst of one kind, then one of each other kind.
        requests = [OVERSIZED["header line"]] * 40 + [
            OVERSIZED["request line"],
            OVERSIZED["too many headers"],
        ]
        answers = await asyncio.gather(*(send(raw) for raw in requests))
        # aiohttp answers a head it could not parse as HTTP/1.0 (the version was never read).
        assert [answer.split(b" ", 2)[1] for answer in answers] == [b"400"] * len(requests)

        async def all_logged() -> bool:
            return len(access_lines.lines) - before >= len(requests)

        await eventually(all_logged)
        async with gateway.session.get(gateway.url("/healthz")) as response:
            assert response.status == 200

    refused = [line for line in access_lines.parsed() if line["route"] == "unparsed"]
    assert len(refused) == len(requests)
    assert {line["status"] for line in refused} == {400}
    assert all(line["error"] == "INVALID_ARGUMENT" and line["problem"] for line in refused)
    assert any("8190 bytes" in str(line["problem"]) for line in refused)
    # The client's bytes are never repeated into the log.
    assert not any("aaaa" in line for line in access_lines.lines)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not [record for record in caplog.records if record.exc_info]
