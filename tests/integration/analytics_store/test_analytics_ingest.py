"""The analytics store fed from a real event stream: the scripted day's reports from DuckDB equal
the reference computation; a restarted consumer that gets everything again doubles nothing;
replaying the stream from the start into an empty store rebuilds the same contacts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import EventPublisher
from integration.adapters.analytics_feed import AnalyticsFeed
from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_facts import ContactLedger
from integration.domain.analytics_metrics import QueueTarget, report_rows, totals_by
from integration.domain.analytics_query import parse_report_query
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.analytics_day import as_stream_event, scripted_day
from tests.integration._mesh import REGION, eventually

DAY = scripted_day()
REFERENCE = ContactLedger().apply(DAY)


async def publish(js: JetStreamContext, events) -> None:
    await EventPublisher(js, REGION).publish_all([as_stream_event(e, REGION) for e in events])


async def run_until_stored(
    js: JetStreamContext, root: Path, durable: str, contacts: int
) -> ParquetAnalyticsStore:
    store = ParquetAnalyticsStore.open(root)
    ingest = AnalyticsIngest(store)
    feed = AnalyticsFeed(js, REGION, ingest.ingest, durable=durable, batch=7)
    await feed.start()
    try:
        await eventually(
            lambda: len(store.facts()) >= contacts, timeout=15, what=f"{contacts} contacts stored"
        )
    finally:
        await feed.stop()
    return store


def by_contact(facts):
    return sorted(facts, key=lambda f: f.contact_id)


QUERIES = [
    {"interval": "hour"},
    {"interval": "day"},
    {"interval": "15m", "group_by": "queue"},
    {"interval": "day", "group_by": "agent"},
    {"interval": "hour", "group_by": "channel", "time_zone": "America/New_York"},
    {"interval": "day", "brands": frozenset({"acme-retail"})},
    {"interval": "hour", "service_level_seconds": 16},
    {
        "interval": "day",
        "group_by": "queue",
        "queue_targets": {
            "billing": QueueTarget(within_seconds=30, by_channel={"webchat": 25}),
            "sales": QueueTarget(within_seconds=10),
        },
    },
]


async def test_the_store_rebuilds_the_scripted_day_exactly_once(js: JetStreamContext, tmp_path: Path):
    # Half the day, consumed and committed; then the consumer is lost and a new one gets
    # the whole stream again (the worst a restart can do), while the rest of the day arrives.
    await publish(js, DAY[:23])
    first = await run_until_stored(js, tmp_path / "live", "analytics-a", contacts=3)
    assert len(first.facts()) < len(REFERENCE)
    await publish(js, DAY[23:])
    store = await run_until_stored(js, tmp_path / "live", "analytics-b", contacts=len(REFERENCE))
    assert by_contact(store.facts()) == by_contact(REFERENCE)

    for parameters in QUERIES:
        arguments = {
            "tenant_id": "acme",
            "start": "2026-03-29",
            "end": "2026-03-30",
            "time_zone": "Europe/Berlin",
        }
        query = parse_report_query(**{**arguments, **parameters})
        assert report_rows(query, await store.totals(query)) == report_rows(
            query, totals_by(REFERENCE, query)
        ), parameters

    # Replaying the stream from its start into an empty store gives the same contacts.
    rebuilt = await run_until_stored(js, tmp_path / "rebuilt", "analytics-c", contacts=len(REFERENCE))
    assert by_contact(rebuilt.facts()) == by_contact(store.facts())
    # Its rollups (committed in other batches) give the same reports.
    for parameters in QUERIES:
        query = parse_report_query(tenant_id="acme", start="2026-03-29", end="2026-03-30", **parameters)
        assert report_rows(query, await rebuilt.totals(query)) == report_rows(
            query, await store.totals(query)
        )
    # And reopening the store (a restart) reads back what was committed, leftovers aside.
    (tmp_path / "live" / "contacts" / "date=2026-03-29" / "part-999999999-0.parquet").write_bytes(b"torn")
    reopened = ParquetAnalyticsStore.open(tmp_path / "live")
    assert by_contact(reopened.facts()) == by_contact(REFERENCE)
    assert not (tmp_path / "live" / "contacts" / "date=2026-03-29" / "part-999999999-0.parquet").exists()


class StoreThatFailsOnce(ParquetAnalyticsStore):
    """A disk that refuses the third commit once (full for a moment)."""

    commits = 0

    async def commit(self, facts, ledger) -> None:
        self.commits += 1
        if self.commits == 3:
            raise OSError("No space left on device")
        await super().commit(facts, ledger)


async def test_a_failed_commit_is_read_again_in_order(js: JetStreamContext, tmp_path: Path):
    await publish(js, DAY)
    store = StoreThatFailsOnce.open(tmp_path)
    feed = AnalyticsFeed(js, REGION, AnalyticsIngest(store).ingest, durable="analytics-flaky", batch=5)
    await feed.start()
    try:
        await eventually(
            lambda: len(store.facts()) >= len(REFERENCE), timeout=20, what="every contact stored"
        )
    finally:
        await feed.stop()
    assert store.commits > 3
    assert by_contact(store.facts()) == by_contact(REFERENCE)


class CountingStore(ParquetAnalyticsStore):
    commits = 0

    async def commit(self, facts, ledger) -> None:
        self.commits += 1
        await super().commit(facts, ledger)


async def test_a_trickle_of_events_is_gathered_into_one_commit_and_acknowledged_once(
    js: JetStreamContext, tmp_path: Path
):
    # Each commit writes files, fsyncs and the manifest: events arriving a few at a time must
    # not each pay for one. The day arrives in six parts; the feed gathers for three seconds.
    store = CountingStore.open(tmp_path)
    feed = AnalyticsFeed(
        js, REGION, AnalyticsIngest(store).ingest, durable="analytics-gather", gather_seconds=3.0
    )
    await feed.start()
    try:
        size = len(DAY) // 6 + 1
        for start in range(0, len(DAY), size):
            await publish(js, DAY[start : start + size])
            await asyncio.sleep(0.1)
        await eventually(lambda: store.commits >= 1, timeout=20, what="the first commit")
    finally:
        await feed.stop()
    assert store.commits == 1
    assert by_contact(store.facts()) == by_contact(REFERENCE)
    # One acknowledgement settled the whole batch: nothing is left pending.
    info = await js.consumer_info(naming.events_stream(REGION).name, "analytics-gather")
    assert info.num_ack_pending == 0
    assert info.ack_floor.stream_seq == info.delivered.stream_seq
