"""Batch re-analyses in the analytics store's Parquet files: kept once each by event id (also
when the same results come again after a reopen), readable by any engine, and expiring with
their day like the contacts."""

from __future__ import annotations

from pathlib import Path

import duckdb

from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_reanalysis import ContactReanalysis

DAY = 1_774_750_500.0  # 2026-03-29T02:15:00Z


def row(contact_id: str, at: float = DAY) -> ContactReanalysis:
    return ContactReanalysis(
        event_id=f"e-{contact_id}",
        tenant_id="acme",
        contact_id=contact_id,
        job_id="j1",
        analysed_at=at,
        intent="refund",
        intent_confidence=0.8,
        intent_model_version="v3",
        language="en",
        sentiment=-0.5,
        tags="refund,negative",
        redacted_kinds="card_number",
        messages=2,
    )


async def test_reanalyses_are_kept_once_survive_a_reopen_and_expire_with_their_day(tmp_path: Path) -> None:
    store = ParquetAnalyticsStore.open(tmp_path)
    await store.add_reanalyses([row("c1"), row("c2"), row("c1")])
    await store.add_reanalyses([row("c2"), row("c3", DAY + 86_400)])
    assert sorted(r.contact_id for r in store.reanalyses()) == ["c1", "c2", "c3"]

    reopened = ParquetAnalyticsStore.open(tmp_path)
    await reopened.add_reanalyses([row("c1"), row("c3", DAY + 86_400)])  # known ids: nothing added
    assert sorted(r.contact_id for r in reopened.reanalyses()) == ["c1", "c2", "c3"]
    files = sorted(str(p) for p in tmp_path.glob("reanalyses/date=*/*.parquet"))
    with duckdb.connect() as connection:
        counted = connection.execute(
            "SELECT intent, count(*) FROM read_parquet(?) GROUP BY intent", [files]
        ).fetchall()
    assert counted == [("refund", 3)]

    assert reopened.expire_days_before("2026-03-30") == ["2026-03-29"]
    assert [r.contact_id for r in reopened.reanalyses()] == ["c3"]
    assert not (tmp_path / "reanalyses" / "date=2026-03-29").exists()
