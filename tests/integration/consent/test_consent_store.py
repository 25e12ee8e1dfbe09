"""Consent records on a real nats-server: written once, read in order, summed up for one-read
checks, erased completely."""

from __future__ import annotations

import asyncio

import nats

from ccmesh.kv import ensure_bucket
from identity.adapters.consent_store import ConsentStore
from identity.domain.consent import ConsentRecord


def _record(rid: str, purpose: str, granted: bool, at: float, customer: str = "c1") -> ConsentRecord:
    return ConsentRecord(rid, customer, purpose, granted, 2, at, "v1", "api", "agent-1")


async def test_records_are_append_only_ordered_summed_up_and_erased(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        store = ConsentStore(await ensure_bucket(nc.jetstream(), "identity-eu"))
        first = _record("r1", "recording", True, 10.0)
        assert await store.append("acme", first) == (first, True)
        # The same id again, even with other content, keeps what was written first.
        assert await store.append("acme", _record("r1", "recording", False, 99.0)) == (first, False)
        await store.append("acme", _record("r2", "marketing", True, 11.0))
        await store.append("acme", _record("r3", "recording", False, 12.0))
        await store.append("acme.brand", _record("r4", "recording", True, 13.0))  # another scope
        await store.append("acme", _record("r5", "recording", True, 14.0, customer="c2"))

        history = await store.history("acme", "c1")
        assert [(r.record_id, r.purpose, r.granted) for r in history] == [
            ("r1", "recording", True),
            ("r2", "marketing", True),
            ("r3", "recording", False),
        ]
        assert await store.standing("acme", "c1") == {"recording": False, "marketing": True}
        assert await store.standing("acme.brand", "c1") == {"recording": True}
        assert await store.standing("acme", "nobody") == {}

        # Concurrent grants and withdrawals: the summary ends on the latest of each purpose.
        await asyncio.gather(
            *(store.append("acme", _record(f"p{i}", "ai_analysis", i % 2 == 0, 100.0 + i)) for i in range(8))
        )
        assert (await store.standing("acme", "c1"))["ai_analysis"] is False  # p7, the latest

        assert await store.erase("acme", "c1") == 11
        assert await store.history("acme", "c1") == []
        assert await store.standing("acme", "c1") == {}
        assert await store.standing("acme", "c2") == {"recording": True}
    finally:
        await nc.close()
