"""Quarter-hour rollups in the Parquet store: a report read from them equals the same report read
from the contacts and the reference computation (interval boundaries, the clock change, brand
scopes, queue targets, every grouping); rollups survive merges and reopens, a store written
before them gets them on open, and days past the retention period leave with their files."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from integration.adapters.analytics_store import MANIFEST, MERGE_AT_FILES, ParquetAnalyticsStore
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import QueueTarget, ReportQuery, report_rows, totals_by
from integration.domain.analytics_query import parse_report_query
from integration.domain.analytics_rollup import answerable_by_rollups
from tests.analytics_day import scripted_day

DAY_SECONDS = 86_400


def stored_facts() -> list[ContactFact]:
    facts = ContactLedger().apply(scripted_day())
    c4 = next(fact for fact in facts if fact.contact_id == "c4")
    # The same contact a week later (another partition), of another brand and another tenant.
    later = [
        replace(
            c4,
            contact_id=f"w{index}",
            queued_at=c4.queued_at + 7 * DAY_SECONDS + index * 600,
            created_at=c4.created_at + 7 * DAY_SECONDS + index * 600,
            answered_at=c4.answered_at + 7 * DAY_SECONDS + index * 600,
            closed_at=c4.closed_at + 7 * DAY_SECONDS + index * 600,
            brand="acme-travel" if index % 2 else c4.brand,
            customer_id=f"u{10 + index}",
        )
        for index in range(5)
    ]
    return [*facts, *later, replace(facts[0], contact_id="g1", tenant_id="globex")]


FACTS = stored_facts()

QUERIES = [
    {"interval": "hour"},
    {"interval": "15m"},
    {"interval": "day", "end": "2026-04-07"},
    {"interval": "15m", "group_by": "queue"},
    {"interval": "day", "group_by": "agent"},
    {"interval": "hour", "group_by": "intent"},
    {"interval": "day", "group_by": "language", "end": "2026-04-07"},
    {"interval": "day", "group_by": "brand", "end": "2026-04-07"},
    {"interval": "hour", "group_by": "channel", "time_zone": "America/New_York"},
    {"interval": "15m", "group_by": "queue", "time_zone": "Asia/Kathmandu"},
    {"interval": "day", "brands": frozenset({"acme-retail"}), "end": "2026-04-07"},
    {"interval": "hour", "service_level_seconds": 25},
    {"interval": "day", "fcr_days": 1},
    {
        "interval": "day",
        "group_by": "queue",
        "queue_targets": {
            "billing": QueueTarget(within_seconds=30, by_channel={"webchat": 25}),
            "sales": QueueTarget(within_seconds=10),
        },
    },
]


def query_of(parameters: dict[str, object]) -> ReportQuery:
    arguments = {
        "tenant_id": "acme",
        "start": "2026-03-29",
        "end": "2026-03-30",
        "time_zone": "Europe/Berlin",
    }
    return parse_report_query(**{**arguments, **parameters})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ParquetAnalyticsStore:
    parquet = ParquetAnalyticsStore.open(tmp_path_factory.mktemp("rollups"))
    for start in range(0, len(FACTS), 3):  # several commits: rows of one key in several files
        asyncio.run(parquet.commit(FACTS[start : start + 3], ContactLedger()))
    return parquet


@pytest.mark.parametrize("parameters", QUERIES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
async def test_a_report_from_rollups_equals_the_contacts(store: ParquetAnalyticsStore, parameters):
    query = query_of(parameters)
    assert answerable_by_rollups(query)
    from_rollups = report_rows(query, await store.totals(query))
    assert from_rollups == report_rows(query, store.totals_from_contacts(query))
    assert from_rollups == report_rows(query, totals_by(FACTS, query))
    assert from_rollups, "the period holds contacts"


async def test_a_report_rollups_cannot_answer_is_read_from_the_contacts(store: ParquetAnalyticsStore):
    for parameters in ({"service_level_seconds": 16}, {"start": "2026-03-29T00:10:00"}):
        query = query_of({"interval": "hour", **parameters})
        assert not answerable_by_rollups(query)
        assert report_rows(query, await store.totals(query)) == report_rows(query, totals_by(FACTS, query))


async def test_rollups_are_merged_and_rebuilt_for_a_store_written_before_them(tmp_path: Path):
    parquet = ParquetAnalyticsStore.open(tmp_path)
    for fact in FACTS * 2:  # a commit each: the days gather more rollup files than are kept
        await parquet.commit([replace(fact, contact_id=fact.contact_id + "x")], ContactLedger())
    assert len(parquet.rollup_files()) < MERGE_AT_FILES * 2
    on_disk = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "rollups").rglob("*.parquet"))
    assert on_disk == sorted(parquet.rollup_files())
    query = query_of({"interval": "day", "group_by": "queue", "end": "2026-04-07"})
    expected = report_rows(query, parquet.totals_from_contacts(query))
    assert report_rows(query, await parquet.totals(query)) == expected

    # The manifest of a store from before rollups: opening it builds them from the contacts.
    manifest = orjson.loads((tmp_path / MANIFEST).read_bytes())
    del manifest["rollups"]
    (tmp_path / MANIFEST).write_bytes(orjson.dumps(manifest))
    reopened = ParquetAnalyticsStore.open(tmp_path)
    assert not any(name in parquet.rollup_files() for name in reopened.rollup_files())
    assert report_rows(query, await reopened.totals(query)) == expected


async def test_days_before_the_retention_period_leave_with_their_files(tmp_path: Path):
    parquet = ParquetAnalyticsStore.open(tmp_path)
    await parquet.commit(FACTS, ContactLedger())
    assert await parquet.expire_before("2026-03-29") == []
    assert await parquet.expire_before("2026-04-01") == ["2026-03-29"]
    remaining = {f.contact_id for f in parquet.facts()}
    assert remaining == {f"w{index}" for index in range(5)}
    for directory in ("contacts", "rollups"):
        days = sorted(p.name for p in (tmp_path / directory).iterdir())
        assert days == ["date=2026-04-05"]
    query = query_of({"interval": "day", "end": "2026-04-07"})
    assert sum(g.totals.offered for g in await parquet.totals(query)) == 5
    reopened = ParquetAnalyticsStore.open(tmp_path)
    assert {f.contact_id for f in reopened.facts()} == remaining


async def test_first_contact_resolution_is_computed_again_when_a_later_day_changes(tmp_path: Path):
    parquet = ParquetAnalyticsStore.open(tmp_path)
    await parquet.commit(FACTS, ContactLedger())
    query = query_of({"interval": "day", "group_by": "queue"})
    before = report_rows(query, await parquet.totals(query))
    assert before == report_rows(query, totals_by(FACTS, query))
    kept = sorted(p.name for p in (tmp_path / "resolution").rglob("*.parquet"))
    assert report_rows(query, await parquet.totals(query)) == before  # read from what was kept
    assert sorted(p.name for p in (tmp_path / "resolution").rglob("*.parquet")) == kept

    # c2's customer comes back three days later: c2 was not resolved at first contact after all.
    c2 = next(fact for fact in FACTS if fact.contact_id == "c2")
    again = replace(
        c2,
        contact_id="c2-again",
        created_at=c2.created_at + 3 * DAY_SECONDS,
        queued_at=c2.queued_at + 3 * DAY_SECONDS,
    )
    await parquet.commit([again], ContactLedger())
    # The upkeep computes the changed day ahead of the report, which then only reads it.
    assert await parquet.warm_resolution(query.start, query.end, query.fcr_days) == 1
    warmed = sorted(p.name for p in (tmp_path / "resolution").rglob("*.parquet"))
    assert warmed != kept
    after = report_rows(query, await parquet.totals(query))
    assert sorted(p.name for p in (tmp_path / "resolution").rglob("*.parquet")) == warmed
    assert after == report_rows(query, totals_by([*FACTS, again], query))
    assert after != before
    # The replaced day's file stays for reports that may still read it; a restart removes it.
    assert len(list((tmp_path / "resolution").rglob("*.parquet"))) == 2
    ParquetAnalyticsStore.open(tmp_path)
    assert len(list((tmp_path / "resolution").rglob("*.parquet"))) == 1
