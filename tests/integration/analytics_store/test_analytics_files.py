"""The Parquet store's files: many small commits of a day are merged into one, nothing lost, and
a reopened store reads the same contacts and remembers them as stored."""

from __future__ import annotations

from pathlib import Path

from integration.adapters.analytics_store import MERGE_AT_FILES, ParquetAnalyticsStore
from integration.domain.analytics_facts import ContactLedger
from tests.analytics_day import scripted_day


async def test_small_commits_are_merged_and_survive_a_reopen(tmp_path: Path):
    facts = ContactLedger().apply(scripted_day())
    store = ParquetAnalyticsStore.open(tmp_path)
    rows = [fact for _ in range(4) for fact in facts]  # 24 commits of one contact each
    for fact in rows:
        await store.commit([fact], ContactLedger())
    assert len(store.files()) < MERGE_AT_FILES
    assert len(store.facts()) == len(rows)
    on_disk = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "contacts").rglob("*.parquet"))
    assert on_disk == sorted(store.files())  # what was merged away is gone

    reopened = ParquetAnalyticsStore.open(tmp_path)
    assert reopened.store_id == store.store_id
    assert sorted(f.contact_id for f in reopened.facts()) == sorted(f.contact_id for f in rows)
    assert set(reopened.ledger().finished()) == {f.contact_id for f in facts}
