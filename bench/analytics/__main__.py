"""`make bench-analytics`: the analytics store's ingest rate and report query time.

Ingest: the region's events as the consumer hands them over (protobuf bytes, batches of 512,
contacts interleaved as on a busy stream: created, queued twice, accepted, messages, an insight,
wrapped up, closed), decoded, folded and committed to Parquet with the manifest, on one core.
NATS is not in the figure (its rates are in FACTS.md and bench/mesh).

Query: a store of synthetic contacts (default 10 million over 30 days, 40 queues, a customer
coming back now and then) written straight as Parquet with their quarter-hour rollups (built as a
bulk load would, `rebuild_rollups`), then day-by-queue reports through the store: over one day,
and over the whole period; both also read from the contacts alone (no rollups) for comparison.
First-contact resolution depends on the customers' later contacts: the first report of a period
computes it per day from the contacts and keeps it (`*_cold_*`), later reports read it back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from google.protobuf.message import Message

from bench.analytics import batch
from bench.report import Goal, print_report
from ccmesh.envelope import new_event, timestamp_at
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_codec import contact_event
from integration.adapters.analytics_files import SCHEMA
from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_query import parse_report_query
from integration.service_layer.analytics_ingest import AnalyticsIngest

REGION = "eu"
DAY = 86_400
START = 1_772_323_200.0  # 2026-03-01T00:00:00Z
BATCH = 512


def _contact_events(index: int, at: float) -> list[events_pb2.Event]:
    """One webchat contact's events as the services publish them."""
    contact = f"c{index:09d}"
    queue = f"q{index % 40}"
    agent = f"a{index % 300}"
    chat = common_pb2.CHANNEL_KIND_WEBCHAT
    steps: list[tuple[float, Message]] = [
        (0, events_pb2.ContactCreated(channel=chat, customer_id=f"u{index % 5000}")),
        (1, events_pb2.ContactQueued(queue=queue, channel=chat, language="en", intent="billing")),
        (1.2, events_pb2.ContactQueued(queue=queue, channel=chat)),
        (2, events_pb2.AiInsight(intent="billing", sentiment=0.2)),
        (15, events_pb2.ContactAccepted(queue=queue, agent_id=agent)),
        (30, events_pb2.MessageSent(text="...")),
        (60, events_pb2.MessageReceived(text="...")),
        (120, events_pb2.MessageSent(text="...")),
        (180, events_pb2.ContactWrappedUp(agent_id=agent, queue=queue, disposition="resolved")),
        (181, events_pb2.ContactClosed(outcome="completed")),
    ]
    return [
        new_event(
            payload,
            tenant_id="acme",
            region=REGION,
            source="bench",
            contact_id=contact,
            event_id=f"{contact}-{position}",
            occurred_at=timestamp_at(at + offset),
        )
        for position, (offset, payload) in enumerate(steps)
    ]


def stream_bytes(contacts: int, interleave: int = 200) -> list[bytes]:
    """The events of `contacts` contacts as stored on the stream, `interleave` contacts open at once."""
    rng = random.Random(7)
    timeline: list[tuple[float, str, bytes]] = []
    for index in range(contacts):
        start = START + index * (181 / interleave) + rng.random()
        for event in _contact_events(index, start):
            moment = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
            timeline.append((moment, event.event_id, event.SerializeToString()))
    timeline.sort()
    return [data for _, _, data in timeline]


async def measure_ingest(contacts: int, root: Path) -> dict[str, float]:
    data = stream_bytes(contacts)
    store = ParquetAnalyticsStore.open(root)
    ingest = AnalyticsIngest(store)
    began = time.process_time()
    wall = time.perf_counter()
    for start in range(0, len(data), BATCH):
        batch = [events_pb2.Event.FromString(raw) for raw in data[start : start + BATCH]]
        folded = [e for e in (contact_event(event) for event in batch) if e is not None]
        await ingest.ingest(folded)
    cpu = time.process_time() - began
    elapsed = time.perf_counter() - wall
    stored = len(store.facts())
    assert stored == contacts, f"{stored} contacts stored of {contacts}"
    return {
        "events": len(data),
        "events_per_cpu_second": len(data) / cpu,
        "events_per_second": len(data) / elapsed,
    }


def prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def choice(values: list[str], indices: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values), pa.array(indices))


def write_synthetic_store(root: Path, contacts: int, days: int) -> ParquetAnalyticsStore:
    store = ParquetAnalyticsStore.open(root)
    per_day = contacts // days
    rng = np.random.default_rng(11)
    files = []
    for day in range(days):
        n = per_day
        ids = np.arange(day * per_day, day * per_day + n)
        created = START + day * DAY + np.sort(rng.uniform(0, DAY, n))
        answered = rng.random(n) < 0.9
        wait = rng.exponential(25, n)
        handle = rng.gamma(4, 80, n)
        answered_strings = pa.array(answered)
        columns = {
            "contact_id": prefixed("c", ids),
            "tenant_id": pc.take(pa.array(["acme"]), np.zeros(n, dtype=np.int64)),
            "brand": choice(["acme-retail", "acme-retail", "acme-outlet"], ids % 3),
            "channel": choice(["voice", "webchat", "sms", "whatsapp", "email"], ids % 5),
            "customer_id": prefixed("u", rng.integers(0, contacts // 3, n)),
            "queue": prefixed("q", ids % 40),
            "final_queue": prefixed("q", ids % 40),
            "agent": pc.if_else(answered_strings, prefixed("a", ids % 800), ""),
            "language": choice(["en", "de", "fr", "es"], ids % 4),
            "intent": prefixed("i", ids % 25),
            "sentiment_sum": pa.array(rng.uniform(-1, 1, n)),
            "sentiment_count": pa.array(np.ones(n, dtype=np.int32)),
            "outcome": pc.if_else(answered_strings, "resolved", "abandoned"),
            "created_at": pa.array(created),
            "queued_at": pa.array(created + 1),
            "answered_at": pa.array(np.where(answered, created + 1 + wait, 0.0)),
            "closed_at": pa.array(created + 1 + wait + handle),
            "wait_seconds": pa.array(np.where(answered, wait, 0.0)),
            "handle_seconds": pa.array(np.where(answered, handle, 0.0)),
            "acw_seconds": pa.array(np.where(answered, handle / 5, 0.0)),
            "abandon_seconds": pa.array(np.where(answered, 0.0, wait)),
            "transfers": pa.array((ids % 17 == 0).astype(np.int32)),
            "answered": answered_strings,
            "abandoned": pa.array(~answered),
        }
        table = pa.table(columns, schema=SCHEMA)
        date = time.strftime("%Y-%m-%d", time.gmtime(START + day * DAY))
        relative = f"contacts/date={date}/part-bench.parquet"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / relative, compression="zstd")
        files.append(relative)
    store._files = files  # the bench writes the partitions itself, as a compaction would
    return store


async def measure_query(store: ParquetAnalyticsStore, days: int, repeats: int = 3) -> dict[str, float]:
    results: dict[str, float] = {}
    for label, end_day in (("one_day", 1), ("whole_period", days)):
        end = time.strftime("%Y-%m-%d", time.gmtime(START + end_day * DAY))
        query = parse_report_query(
            tenant_id="acme",
            start="2026-03-01",
            end=end,
            interval="day",
            group_by="queue",
            time_zone="Europe/Berlin",
        )
        timings, cpu = [], []
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            groups = await store.totals(query)
            timings.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        # The first query computes the period's first-contact resolution and keeps it; the
        # following ones read what was kept (until a commit changes the days it read).
        results[f"{label}_cold_seconds"] = timings[0]
        results[f"{label}_cold_cpu_seconds"] = cpu[0]
        results[f"{label}_seconds"] = min(timings[1:])
        # CPU seconds of every thread: on a shared machine the wall time depends on the load.
        results[f"{label}_cpu_seconds"] = min(cpu[1:])
        results[f"{label}_rows"] = len(groups)
        results[f"{label}_offered"] = sum(g.totals.offered for g in groups)
        began, began_cpu = time.perf_counter(), time.process_time()
        reference = await asyncio.to_thread(store.totals_from_contacts, query)
        results[f"{label}_from_contacts_seconds"] = time.perf_counter() - began
        results[f"{label}_from_contacts_cpu_seconds"] = time.process_time() - began_cpu
        assert sorted(g.totals.offered for g in reference) == sorted(g.totals.offered for g in groups)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.analytics")
    parser.add_argument("--ingest-contacts", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=10_000_000, help="contacts in the query store")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--batch",
        action="store_true",
        help="also measure batch re-analysis (bench/analytics/batch.py): throughput, live p99 beside it",
    )
    parser.add_argument("--batch-contacts", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        ingest = await measure_ingest(args.ingest_contacts, root / "ingest")
        began = time.perf_counter()
        store = write_synthetic_store(root / "query", args.contacts, args.days)
        generated = time.perf_counter() - began
        began = time.perf_counter()
        store.rebuild_rollups()
        rolled_up = time.perf_counter() - began
        query = await measure_query(store, args.days)
    results = {
        **ingest,
        **query,
        "query_store_contacts": args.contacts,
        "generation_seconds": generated,
        "rollup_build_seconds": rolled_up,
        "load_average": os.getloadavg()[0],
    }
    goals = [
        Goal("events_per_cpu_second", ">=", 20_000, ingest["events_per_cpu_second"]),
        Goal("whole_period_seconds", "<", 1.0, query["whole_period_seconds"]),
        Goal("one_day_seconds", "<", 1.0, query["one_day_seconds"]),
    ]
    if args.batch:
        reanalysis = await batch.measure(
            args.batch_contacts, seconds=20.0, live_rate=20.0, with_encoder=False
        )
        results.update(reanalysis)
        goals += batch.goals(reanalysis)
    print_report("analytics", results, goals)


if __name__ == "__main__":
    asyncio.run(main())
