"""The identity writes that decide by `create` on a real server: a global-index claim that fails
names the home it found; a batch's contact links and timeline entries are each stored once (an
erased link is not made again by a redelivered ContactCreated); a link known to the process is
not read again until an erasure anywhere removes it."""

from __future__ import annotations

from typing import Any

import nats
import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.kv import ensure_bucket
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.domain.identifiers import IdentifierKind, normalize
from identity.domain.residency import IndexKeys
from identity.domain.timeline import CONTACT, MESSAGE_IN, ContactLink, TimelineEntry

pytestmark = pytest.mark.timeout(30)

TENANT, SCOPE = "acme", "acme"


async def test_a_global_claim_that_fails_names_the_home_it_found(nc: NATS) -> None:
    js = nc.jetstream()
    keys = IndexKeys(b"k" * 32)
    eu = GlobalIndex(await ensure_bucket(js, "claims-global", history=1), keys)
    us = GlobalIndex(await ensure_bucket(js, "claims-global", history=1), keys)
    person = normalize(IdentifierKind.PHONE, "+447700900123")
    assert await eu.claim_home(TENANT, SCOPE, person, "eu") is None
    assert await eu.claim_home(TENANT, SCOPE, person, "eu") == "eu"
    assert await us.claim_home(TENANT, SCOPE, person, "us") == "eu"
    # Withdrawn (or erased): the next region to claim it homes it, over the purge marker.
    assert await eu.forget(TENANT, SCOPE, person, "eu")
    assert await us.claim_home(TENANT, SCOPE, person, "us") is None
    assert await eu.home_of(TENANT, SCOPE, person) == "us"


async def test_a_batch_stores_each_link_and_entry_once_and_no_erased_link_again(nc: NATS) -> None:
    js = nc.jetstream()
    history = HistoryStore(js, await ensure_bucket(js, "claims-history"), "claims-history")
    entry = TimelineEntry("e1", "cust-1", CONTACT, 1, "c1", 1.0, "sms")
    reply = TimelineEntry("e2", "cust-1", MESSAGE_IN, 1, "c1", 2.0, "hello")
    first = await history.write_all([(TENANT, "c1", ContactLink("cust-1", 1))], [(TENANT, entry)])
    assert first == ([None], [True])
    again = await history.write_all(
        [(TENANT, "c1", ContactLink("cust-2", 1))], [(TENANT, entry), (TENANT, reply)]
    )
    assert again == ([None], [False, True])
    assert await history.linked(TENANT, "c1") == ContactLink("cust-1", 1)
    found, more = await history.entries_after(TENANT, "cust-1", 0, 10, frozenset())
    assert [e.entry_id for _, e in found] == ["e1", "e2"] and not more
    # A batch's entries are stored in the batch's order: the timeline reads in stream order.
    many = [TimelineEntry(f"m{i}", "cust-3", MESSAGE_IN, 1, "c3", float(i), "hi") for i in range(30)]
    assert await history.write_all([], [(TENANT, e) for e in many]) == ([], [True] * 30)
    stored, _ = await history.entries_after(TENANT, "cust-3", 0, 50, frozenset())
    assert [e.entry_id for _, e in stored] == [e.entry_id for e in many]
    await history.purge_link(TENANT, "c1")
    assert await history.write_all([(TENANT, "c1", ContactLink("cust-1", 1))], []) == ([None], [])
    assert await history.linked(TENANT, "c1") is None


class CountingReads:
    """Counts the bucket reads a handle makes (its other calls go through unchanged)."""

    def __init__(self, kv: Any) -> None:
        self._kv = kv
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)

    async def get(self, key: str, revision: int | None = None) -> Any:
        self.reads += 1
        return await self._kv.get(key, revision)


async def test_a_known_link_is_not_read_again_and_an_erasure_elsewhere_ends_it(nats_url: str) -> None:
    here, elsewhere = await nats.connect(nats_url), await nats.connect(nats_url)
    try:
        kv = CountingReads(await ensure_bucket(here.jetstream(), "links-history"))
        history = HistoryStore(here.jetstream(), kv, "links-history")  # type: ignore[arg-type]
        await history.follow_link_removals(here)
        other_js = elsewhere.jetstream()
        other = HistoryStore(other_js, await ensure_bucket(other_js, "links-history"), "links-history")
        # Written by this process: its later events need no read.
        await history.write_all([(TENANT, "c1", ContactLink("cust-1", 1))], [])
        # Written by another process: read once, then known.
        await other.write_all([(TENANT, "c2", ContactLink("cust-2", 1))], [])
        for _ in range(3):
            assert await history.linked(TENANT, "c1") == ContactLink("cust-1", 1)
            assert await history.linked(TENANT, "c2") == ContactLink("cust-2", 1)
        assert kv.reads == 1
        # Erased by the other process: this one stops answering from memory.
        await other.purge_link(TENANT, "c1")

        async def gone() -> bool:
            return await history.linked(TENANT, "c1") is None

        assert await eventually(gone)
    finally:
        await here.close()
        await elsewhere.close()
