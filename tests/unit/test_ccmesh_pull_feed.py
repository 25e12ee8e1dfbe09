"""The standing pulls of `ccmesh.pull_feed.PullFeed`, against a fake connection that records what
is asked and answers as the server would: topped up at half a batch, asked again after a
reconnect, a silence, an expiry that left messages owed, or a refusal; a batch of one never
fetched ahead."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest
from nats.aio.msg import Msg

from ccmesh.pull_feed import REFUSED_PAUSE_SECONDS, PullFeed


class FakeConnection:
    def __init__(self) -> None:
        self.stats = {"reconnects": 0}
        self.pulls: list[dict[str, Any]] = []
        self.callback: Any = None

    def new_inbox(self) -> str:
        return "_INBOX.feed"

    async def subscribe(self, subject: str, cb: Any) -> Any:
        self.callback = cb
        return self

    async def unsubscribe(self) -> None:
        pass

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        assert subject == "$JS.API.CONSUMER.MSG.NEXT.events-eu.durable"
        assert reply == "_INBOX.feed"
        self.pulls.append(orjson.loads(payload))

    async def deliver(self, n: int, pending: int = 0) -> None:
        reply = f"$JS.ACK.events-eu.durable.1.{n}.{n}.0.{pending}"
        await self.callback(Msg(self, subject="ccevt.eu", reply=reply, data=b""))  # type: ignore[arg-type]

    async def status(self, code: str, **headers: str) -> None:
        await self.callback(Msg(self, subject="_INBOX.feed", headers={"Status": code, **headers}))  # type: ignore[arg-type]


async def feed_on(connection: FakeConnection, batch: int, **timing: float) -> PullFeed:
    feed = PullFeed(connection, "$JS.API", "events-eu", "durable", batch=batch, **timing)  # type: ignore[arg-type]
    await feed.start()
    return feed


async def test_a_pull_asks_for_a_batch_and_is_topped_up_at_half_of_it() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)
    assert await feed.take(8, wait=0.01) == []
    assert [p["batch"] for p in connection.pulls] == [8]
    assert connection.pulls[0]["expires"] == 10_000_000_000
    for n in range(3):
        await connection.deliver(n)
    assert len(await feed.take(8, wait=0.01)) == 3
    # 5 still asked for: more than half a batch, so nothing more is asked.
    assert [p["batch"] for p in connection.pulls] == [8]
    await connection.deliver(3)
    assert len(await feed.take(8, wait=0.01)) == 1
    # 4 asked for now: half a batch, topped up on the next take.
    assert await feed.take(8, wait=0.01) == []
    assert [p["batch"] for p in connection.pulls] == [8, 4]


async def test_a_backlog_that_arrives_in_parts_is_taken_whole() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)

    async def burst() -> None:
        await asyncio.sleep(0.01)
        await connection.deliver(1, pending=2)
        await asyncio.sleep(0.005)  # the rest in a later socket read
        await connection.deliver(2, pending=1)
        await connection.deliver(3, pending=0)

    sending = asyncio.create_task(burst())
    assert len(await feed.take(8, wait=1.0)) == 3
    await sending


async def test_a_batch_of_one_is_not_fetched_ahead_while_its_message_is_handled() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=1)
    await feed.take(1, wait=0.01)
    await connection.deliver(1)
    assert len(await feed.take(1, wait=0.01)) == 1
    # Handling it now: nothing is asked until the next take.
    assert len(connection.pulls) == 1
    await feed.take(1, wait=0.01)
    assert len(connection.pulls) == 2


async def test_an_expired_pull_that_still_owed_messages_is_asked_again() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)
    await feed.take(8, wait=0.01)
    await connection.status("408", **{"Nats-Pending-Messages": "8", "Description": "Request Timeout"})
    await feed.take(8, wait=0.01)
    assert [p["batch"] for p in connection.pulls] == [8, 8]


async def test_pulls_are_asked_again_after_a_reconnect() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)
    await feed.take(8, wait=0.01)
    connection.stats["reconnects"] += 1  # the server may have restarted without the pull
    await feed.take(8, wait=0.01)
    assert [p["batch"] for p in connection.pulls] == [8, 8]


async def test_a_reconnect_during_a_wait_is_answered_within_that_wait() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)
    waiting = asyncio.create_task(feed.take(8, wait=1.0))
    await asyncio.sleep(0.05)
    # The server that held the pull went away; its successor never heard of it.
    connection.stats["reconnects"] += 1
    assert await waiting == []
    assert [p["batch"] for p in connection.pulls] == [8, 8]


async def test_a_silent_pull_is_asked_again_after_three_missed_heartbeats() -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8, heartbeat=0.02, expires=1.0)
    await feed.take(8, wait=0.01)
    assert connection.pulls[0]["idle_heartbeat"] == 20_000_000
    await connection.status("100", Description="Idle Heartbeat")
    await feed.take(8, wait=0.03)  # heard within the silence: still standing
    assert len(connection.pulls) == 1
    await feed.take(8, wait=0.2)  # then nothing at all
    assert len(connection.pulls) >= 2


async def test_a_refused_pull_is_asked_again_after_a_pause_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = FakeConnection()
    feed = await feed_on(connection, batch=8)
    await feed.take(8, wait=0.01)
    with caplog.at_level(logging.INFO, logger="ccmesh.pull_feed"):
        for _ in range(3):
            await connection.status("409", Description="Consumer Deleted")
            await feed.take(8, wait=REFUSED_PAUSE_SECONDS * 3)
    assert len(connection.pulls) == 4
    refusals = [r for r in caplog.records if "409" in r.getMessage()]
    assert len(refusals) == 1


async def test_closing_hands_back_what_was_not_taken_after_the_last_pull_expires() -> None:
    connection = FakeConnection()
    naks: list[bytes] = []

    async def publish(subject: str, payload: bytes, reply: str = "") -> None:
        if subject.startswith("$JS.ACK"):
            naks.append(payload)
        else:
            connection.pulls.append(orjson.loads(payload))

    connection.publish = publish  # type: ignore[method-assign]
    feed = await feed_on(connection, batch=8, expires=2.0, heartbeat=1.0)
    await feed.take(1, wait=0.01)
    for n in range(3):
        await connection.deliver(n)
    assert len(await feed.take(1, wait=0.01)) == 1
    assert await feed.close() == 2
    assert len(naks) == 2
    delay = orjson.loads(naks[0].split(b" ", 1)[1])["delay"]
    assert 1_000_000_000 < delay <= 2_000_000_000
    assert await feed.take(8, wait=0.01) == []


def test_a_heartbeat_longer_than_half_the_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        PullFeed(FakeConnection(), "$JS.API", "s", "d", batch=1, heartbeat=6.0, expires=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch"):
        PullFeed(FakeConnection(), "$JS.API", "s", "d", batch=0)  # type: ignore[arg-type]
