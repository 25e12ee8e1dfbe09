"""A sweep whose publish of one record's message hangs (its stream electing a leader) still
sends and removes the other records' messages meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Entry, Outbox, carry, entries_of

pytestmark = pytest.mark.timeout(30)


async def test_a_stalled_publish_holds_back_only_its_own_record(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), "outbox-stall", history=1)
    for key in ("stalled", "free"):
        staged = carry(None, b'{"state":"x"}', [Entry(f"events.{key}", f"id-{key}", b"m", at=1.0)])
        assert staged is not None
        await kv.put(key, staged)
    stalled = asyncio.Event()
    published: list[str] = []

    async def publish(entry: Entry) -> None:
        if entry.msg_id == "id-stalled":
            stalled.set()
            await asyncio.Event().wait()  # never acknowledged, as while a leader is elected
        published.append(entry.msg_id)

    outbox = Outbox(kv, publish, after_seconds=1.0, clock=lambda: 100.0)
    # The stalled record is noted first: a sweep taking the records in turn never reaches the other.
    outbox.note("stalled", (await kv.get("stalled")).value)
    outbox.note("free", (await kv.get("free")).value)
    sweep = asyncio.create_task(outbox.sweep())
    try:

        async def free_sent_and_removed() -> bool:
            return published == ["id-free"] and not entries_of((await kv.get("free")).value)

        await eventually(free_sent_and_removed)
        assert stalled.is_set()
        assert [e.msg_id for e in entries_of((await kv.get("stalled")).value)] == ["id-stalled"]
    finally:
        sweep.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweep
