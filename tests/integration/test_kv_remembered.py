"""`update_with` starting from the value its handle remembers (its own writes, what a watch saw):
no read where the writer knows the value, and never a lost or wrong update when the remembered
value is out of date. Against a real nats-server; the reads are counted at the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import KeyNotFoundError

from ccmesh.envelope import new_event, stable_event_id
from ccmesh.kv import ReadYourWritesKV, ensure_bucket, update_with
from ccmesh.outbox import Entry, Outbox, carry, entries_of, entry_of_event
from contactcenter.events.v1 import events_pb2

BUCKET = "remembered"


class CountedReads:
    """Counts the key reads (direct gets) a handle sends."""

    def __init__(self, kv: ReadYourWritesKV) -> None:
        self.reads = 0
        original = kv._js.get_msg

        async def get_msg(*args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return await original(*args, **kwargs)

        kv._js.get_msg = get_msg  # type: ignore[method-assign]


@pytest.fixture
async def other(nats_url: str) -> AsyncIterator[ReadYourWritesKV]:
    """The same bucket through another client: writes this test's handle does not know of."""
    connection = await nats.connect(nats_url)
    try:
        yield await ensure_bucket(connection.jetstream(), BUCKET)
    finally:
        await connection.drain()


def increment(old: bytes | None) -> bytes:
    return str(int(old or b"0") + 1).encode()


async def test_a_writer_that_knows_the_value_does_not_read_it(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    counted = CountedReads(kv)
    await kv.put("k", b"1")
    for _ in range(3):
        await update_with(kv, "k", increment)
    assert counted.reads == 0
    assert (await kv.get("k")).value == b"4"


async def test_a_value_changed_by_another_client_is_read_and_nothing_is_lost(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    await kv.put("k", b"1")
    await other.put("k", b"10")  # unknown to `kv`, which still remembers 1
    seen: list[bytes | None] = []

    def add_one(old: bytes | None) -> bytes:
        seen.append(old)
        return increment(old)

    revision = await update_with(kv, "k", add_one)
    assert seen == [b"1", b"10"]  # the remembered write lost; the latest value was read
    entry = await other.get("k")
    assert (entry.value, entry.revision) == (b"11", revision)


async def test_a_change_refused_on_the_remembered_value_is_tried_on_the_latest(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    await kv.put("k", b"waiting")
    await other.put("k", b"offered")

    def accept(old: bytes | None) -> bytes:
        if old != b"offered":
            raise ValueError(f"not offered: {old!r}")
        return b"accepted"

    await update_with(kv, "k", accept)
    assert (await other.get("k")).value == b"accepted"


async def test_a_change_that_keeps_the_remembered_value_is_checked_on_the_latest(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    await kv.put("k", b"closed")
    latest = await other.put("k", b"open")

    def close_once(old: bytes | None) -> bytes | None:
        return old if old == b"closed" else b"closed"

    # Remembered "closed" would say: nothing to do. The latest value is open, so it is closed.
    assert await update_with(kv, "k", close_once) > latest
    assert (await other.get("k")).value == b"closed"


async def test_a_key_deleted_by_another_client_is_not_written_from_memory(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    await kv.put("k", b"1")
    await other.delete("k")

    def must_exist(old: bytes | None) -> bytes:
        if old is None:
            raise KeyError("k")
        return increment(old)

    with pytest.raises(KeyError):
        await update_with(kv, "k", must_exist)
    with pytest.raises(KeyNotFoundError):
        await other.get("k")


async def test_a_key_read_absent_is_created_without_reading_it_again(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    counted = CountedReads(kv)
    with pytest.raises(KeyNotFoundError):
        await kv.get("new")
    assert kv.known_absent("new") == 0
    revision = await update_with(kv, "new", increment)
    expiring = "new-expiring"
    with pytest.raises(KeyNotFoundError):
        await kv.get(expiring)
    await update_with(kv, expiring, increment, ttl=60)
    assert counted.reads == 2  # the two reads that found nothing, none after
    entry = await kv.get("new")
    assert (entry.value, entry.revision) == (b"1", revision)
    assert (await kv.get(expiring)).value == b"1"


@pytest.mark.parametrize("ttl", [0, 60])
async def test_a_key_created_by_another_client_after_it_was_read_absent_is_not_overwritten(
    nc: NATS, other: ReadYourWritesKV, ttl: int
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    with pytest.raises(KeyNotFoundError):
        await kv.get("k")
    await other.put("k", b"10")
    await update_with(kv, "k", increment, ttl=ttl)
    assert (await other.get("k")).value == b"11"


async def test_a_key_read_deleted_is_written_over_its_marker_and_a_later_write_is_kept(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    await other.put("gone", b"5")
    await other.delete("gone")
    with pytest.raises(KeyNotFoundError):
        await kv.get("gone")
    assert (kv.known_absent("gone") or 0) > 0  # the marker's revision
    await update_with(kv, "gone", increment)
    assert (await other.get("gone")).value == b"1"
    await other.delete("gone")
    with pytest.raises(KeyNotFoundError):
        await kv.get("gone")
    await other.put("gone", b"7")  # after this handle saw the deletion
    await update_with(kv, "gone", increment)
    assert (await other.get("gone")).value == b"8"


async def test_a_watched_value_is_remembered_only_when_newer(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    revision = await kv.put("k", b"2")
    kv.observe("k", b"1", revision - 1)  # a watch running behind
    assert kv.known("k") == (b"2", revision)
    kv.observe("k", None, revision + 1)  # deleted after
    assert kv.known("k") is None


def _entry(contact_id: str) -> Entry:
    event = new_event(
        events_pb2.ContactClosed(),
        tenant_id="acme",
        region="eu",
        source="test",
        contact_id=contact_id,
        event_id=stable_event_id("remembered", contact_id),
    )
    return entry_of_event(event, "eu", at=0.0)


async def test_a_sweep_from_a_remembered_value_keeps_what_another_writer_staged_since(
    nc: NATS, other: ReadYourWritesKV
) -> None:
    """The sweeper sends and removes what the value it remembers shows; an entry another writer
    staged since stays in the record, and stays the sweeper's to send."""
    kv = await ensure_bucket(nc.jetstream(), BUCKET)
    mine, theirs = _entry("c1"), _entry("c2")
    await kv.put("record", carry(None, b'{"v":1}', add=[mine]) or b"")
    current = await other.get("record")
    staged = carry(current.value, b'{"v":2}', add=[theirs]) or b""
    await other.update("record", staged, last=current.revision or 0)
    published: list[str] = []

    async def publish(entry: Entry) -> None:
        published.append(entry.msg_id)

    outbox = Outbox(kv, publish, after_seconds=0.0)
    outbox.note("record", staged)  # what the process's watch delivers
    await outbox.flush("record")
    assert published == [mine.msg_id]  # all the remembered value showed
    assert entries_of((await other.get("record")).value) == [theirs]
    assert outbox.pending_keys == 1  # still tracked: the next sweep sends it
    await outbox.flush("record")
    assert published == [mine.msg_id, theirs.msg_id]
    assert entries_of((await other.get("record")).value) == []
    assert outbox.pending_keys == 0
