"""Exporting a period from the Parquet store (DuckDB), a page at a time: every contact of the
period once, in arrival order, the same rows as the reference (in-memory) store; the period's
end excluded; brand scopes and tenants kept apart; a bad page token or size named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_export import key_of
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_query import ReportError
from integration.service_layer.analytics_reports import Reports
from tests.analytics_day import scripted_day
from tests.unit.analytics.analytics_fakes import MemoryAnalyticsStore

DAY = {"tenant_id": "acme", "start": "2026-03-29", "end": "2026-03-30", "time_zone": "Europe/Berlin"}


def stored_facts() -> list[ContactFact]:
    facts = ContactLedger().apply(scripted_day())
    c1 = next(fact for fact in facts if fact.contact_id == "c1")
    return [
        *facts,
        replace(c1, contact_id="b1", brand="acme-travel"),
        replace(c1, contact_id="g1", tenant_id="globex"),
    ]


async def every_page(reports: Reports, page_size: int, **asked: object) -> list[list[str]]:
    pages, token = [], ""
    while True:
        facts, token = await reports.export(**DAY | asked, page_size=page_size, page_token=token)  # type: ignore[arg-type]
        pages.append([fact.contact_id for fact in facts])
        if not token:
            return pages


@pytest.fixture
async def stores(tmp_path: Path) -> tuple[Reports, Reports]:
    facts = stored_facts()
    parquet = ParquetAnalyticsStore.open(tmp_path)
    for fact in facts:  # one commit each: the rows span several part files
        await parquet.commit([fact], ContactLedger())
    memory = MemoryAnalyticsStore()
    await memory.commit(facts, ContactLedger())
    return Reports(parquet), Reports(memory)


async def test_pages_hold_every_contact_of_the_period_once_in_arrival_order(stores):
    parquet, memory = stores
    facts = {fact.contact_id: fact for fact in stored_facts()}
    pages = await every_page(parquet, 2)
    exported = [contact for page in pages for contact in page]
    # c5 never queued: it counts at its creation, like in the reports; globex's contact is not acme's.
    assert sorted(exported) == ["b1", "c1", "c2", "c3", "c4", "c5", "c6"]
    assert exported == sorted(exported, key=lambda contact: key_of(facts[contact]))
    assert all(len(page) == 2 for page in pages[:-1])
    assert pages == await every_page(memory, 2)
    # A page asked again is the same page.
    first, token = await parquet.export(**DAY, page_size=3)
    again, same_token = await parquet.export(**DAY, page_size=3)
    assert first == again and token == same_token
    assert first == [facts[contact] for contact in exported[:3]]  # whole rows, as stored


async def test_the_end_is_excluded_and_brand_scopes_hold(stores):
    parquet, _ = stores
    # c6 queued at 23:59:50 Berlin time.
    before_c6 = await every_page(parquet, 100, end="2026-03-29T23:59:50")
    assert "c6" not in before_c6[0] and "c4" in before_c6[0]
    assert await every_page(parquet, 100, brands=["acme-travel"]) == [["b1"]]
    assert await every_page(parquet, 100, start="2026-03-30", end="2026-03-31") == [[]]


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"page_token": "yesterday"}, "page_token: not a token an earlier page gave: 'yesterday'"),
        ({"page_token": "nan/c1"}, "page_token: not a token"),
        ({"page_size": 20_000}, "page_size: at most 10000, got 20000"),
        ({"end": "2026-03-28"}, "end: must be after start"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: unknown time zone 'Mars/Olympus'"),
    ],
)
async def test_a_bad_parameter_is_named(stores, asked, message):
    parquet, _ = stores
    with pytest.raises(ReportError) as refused:
        await parquet.export(**DAY | asked)
    assert message in str(refused.value)
