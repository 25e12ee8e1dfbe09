"""A forgotten customer leaves the analytics store: their id is in no stored, open or kept file
afterwards, while their contacts still count, in the same reports (a reopened store too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_facts import ContactLedger, Step
from integration.domain.analytics_metrics import report_rows, totals_by
from integration.domain.analytics_query import parse_report_query
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.analytics_day import scripted_day

CUSTOMER = "cust-7f3a91c2"


def bytes_under(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in root.rglob("*") if path.is_file()]


async def test_the_customer_id_is_gone_and_their_contacts_still_count(tmp_path: Path):
    # u1's contacts: c1 (answered, finished) and c3 (still open when they are forgotten).
    day = [replace(e, customer_id=CUSTOMER) if e.customer_id == "u1" else e for e in scripted_day()]
    c3_close = next(e for e in day if e.contact_id == "c3" and e.step is Step.CLOSED)
    store = ParquetAnalyticsStore.open(tmp_path)
    ingest = AnalyticsIngest(store)
    await ingest.ingest([e for e in day if e is not c3_close])
    query = parse_report_query(tenant_id="acme", start="2026-03-29", end="2026-03-30", interval="day")
    await store.totals(query)  # first-contact resolution kept under resolution/
    assert any(CUSTOMER.encode() in data for data in bytes_under(tmp_path))

    assert await ingest.erase_customer("acme", CUSTOMER) == 1  # c1 stored; c3 open
    assert not any(CUSTOMER.encode() in data for data in bytes_under(tmp_path))

    await ingest.ingest([c3_close])
    assert not any(CUSTOMER.encode() in data for data in bytes_under(tmp_path))
    # c1 and c3 are still one customer's: c1 is still not resolved at first contact.
    expected = report_rows(query, totals_by(ContactLedger().apply(day), query))
    assert report_rows(query, await store.totals(query)) == expected
    # (Parquet compresses its pages: the rows themselves are checked too.)
    ids = {fact.contact_id: fact.customer_id for fact in store.facts()}
    assert CUSTOMER not in ids.values() and ids["c1"] == ids["c3"] != ""
    reopened = ParquetAnalyticsStore.open(tmp_path)
    assert report_rows(query, await reopened.totals(query)) == expected
    assert await AnalyticsIngest(reopened).erase_customer("acme", CUSTOMER) == 0
