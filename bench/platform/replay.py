"""The replay run: does routing's cost stay flat as history grows?

A fresh region (no agents logged in) is fed contacts that come and go, as the region's stream
carries them: a `ContactQueued` for the bench queue, then its `ContactClosed` (the customer left
before anyone answered). In batches: the batch's contacts are queued, routing's queued consumer
drains, then they are closed and routing's closed consumer drains, so every contact routing ever
saw is closed again.

At each checkpoint (contacts fed so far) the bench measures the same thing the same way, so two
checkpoints compare like with like: routing's CPU per contact over PROBE_BATCHES more batches,
each measured on its own (the median is reported: one batch that met a neighbour's burst does
not move it), then its idle CPU over IDLE_SECONDS with nothing arriving, and its resident memory.
CPU is read from the scheduler's nanosecond run times of routing's threads, not the 10 ms ticks
of `/proc/<pid>/stat`: idle routing uses a fiftieth of a core, a fifth of a second in ten, which
ticks would count to within 5%. The contacts fed between checkpoints are counted as a whole too
(`segment_cpu_ms_per_contact`), for reference.

The machine's own speed moves during a run this long (a shared host: another guest's load, time
stolen from this one), and routing's CPU seconds move with it. So after each probe batch the
bench times a fixed piece of pure-Python work in its own process (`reference_work_ms`, the
median per checkpoint), and the growths the goal reads are of routing's figures in units of that
work: the same history costing the same at both checkpoints reads as no growth, whatever the
host did meanwhile. The raw growths (`..._raw`) are reported beside them.

Each of those timings is the fastest of REFERENCE_REPEATS runs, with the collector paused. One
run of the work lasts about 15 ms and lands in whatever else is running at that moment
(routing and nats-server still settling the batch, on the other core or its hyperthread
sibling): single runs of the same work ranged from 15 to 32 ms within one checkpoint, more than
routing's own figures moved, so the unit itself was noise. The fastest of a few is the machine's
speed with the least interference, as `timeit` measures.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import time
import uuid
from typing import Any

from nats.js import JetStreamContext

from bench.platform.region import BRAND, QUEUE, REGION, TENANT, BenchRegion
from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

SOURCE = "bench-replay"
#: A whole period of routing's slowest periodic job (the surge watch evaluates every 60 s), so each
#: idle window holds the same idle work: a 20 s window held that job once or not at all, and two
#: runs read the idle growth as -8% and +29%.
IDLE_SECONDS = 60.0
#: Batches measured one by one at each checkpoint.
PROBE_BATCHES = 9
#: Runs of the reference work per timing: the fastest counts (see the module's docstring).
REFERENCE_REPEATS = 5
IN_FLIGHT = 200
QUEUED_CONSUMER = "routing-acd-queued"
CLOSED_CONSUMER = "routing-acd-closed"


def resident_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reference_work_ms(repeats: int = REFERENCE_REPEATS) -> float:
    """CPU milliseconds this thread takes for a fixed piece of work in the style of a service's
    own code (string keys, dict updates, a sort): the machine's speed at this moment, as the
    fastest of `repeats` runs with the collector paused (a collection would time the bench's
    own heap, which grows with what it fed)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return min(_one_reference_run() for _ in range(repeats))
    finally:
        if was_enabled:
            gc.enable()


def _one_reference_run() -> float:
    started = time.thread_time()
    table: dict[str, int] = {}
    for i in range(60_000):
        key = f"contact-{i % 997}"
        table[key] = table.get(key, 0) + i
    ranked = sorted(table.items(), key=lambda item: item[1])
    assert len(ranked) == 997
    return (time.thread_time() - started) * 1000


def run_seconds(pid: int) -> float:
    """Seconds the process's live threads have run, from the scheduler's nanosecond counts."""
    total = 0
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
    return total / 1e9


async def drained(js: JetStreamContext, durable: str, timeout: float = 600.0) -> None:
    """Until routing's consumer has nothing pending and nothing unacknowledged."""
    stream = naming.events_stream(REGION).name
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info(stream, durable)
        if not info.num_pending and not info.num_ack_pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"replay: {durable} still has {info.num_pending} pending after {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def publish_all(publisher: EventPublisher, events: list[events_pb2.Event]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(event: events_pb2.Event) -> None:
        async with gate:
            await publisher.publish(event, timeout=30.0)

    await asyncio.gather(*(one(e) for e in events))


def queued(contact_id: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactQueued(queue=QUEUE, channel=common_pb2.CHANNEL_KIND_API, brand=BRAND),
        tenant_id=TENANT,
        region=REGION,
        source=SOURCE,
        contact_id=contact_id,
        brand_id=BRAND,
    )


def closed(contact_id: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactClosed(outcome="abandoned", closed_by="customer"),
        tenant_id=TENANT,
        region=REGION,
        source=SOURCE,
        contact_id=contact_id,
        brand_id=BRAND,
    )


async def replay(region: BenchRegion, checkpoints: list[int], batch: int) -> dict[str, Any]:
    js = region.nc.jetstream()
    publisher = EventPublisher(js, REGION)
    routing = region.processes()["routing"]
    fed = 0

    async def feed(count: int) -> float:
        """Feed `count` contacts in batches; routing's CPU seconds meanwhile."""
        nonlocal fed
        cpu0 = run_seconds(routing)
        goal = fed + count
        while fed < goal:
            ids = [uuid.uuid4().hex for _ in range(min(batch, goal - fed))]
            await publish_all(publisher, [queued(c) for c in ids])
            await drained(js, QUEUED_CONSUMER)
            await publish_all(publisher, [closed(c) for c in ids])
            await drained(js, CLOSED_CONSUMER)
            fed += len(ids)
        return run_seconds(routing) - cpu0

    results: list[dict[str, Any]] = []
    for checkpoint in sorted(checkpoints):
        segment = checkpoint - fed
        started = time.monotonic()
        segment_cpu = await feed(segment) if segment > 0 else 0.0
        segment_seconds = time.monotonic() - started
        history = fed  # the checkpoint, or more when earlier probes fed past it
        probes: list[float] = []
        speeds: list[float] = []
        for _ in range(PROBE_BATCHES):
            probes.append(await feed(batch) * 1000 / batch)
            speeds.append(reference_work_ms())
        reference_ms = statistics.median(speeds)
        idle0 = run_seconds(routing)
        await asyncio.sleep(IDLE_SECONDS)
        idle = (run_seconds(routing) - idle0) / IDLE_SECONDS
        per_contact_ms = statistics.median(probes)
        print(
            f"bench-platform replay: {history} contacts, routing {per_contact_ms:.3f} ms CPU/contact "
            f"(median of {PROBE_BATCHES} batches of {batch}: "
            f"{', '.join(f'{p:.3f}' for p in probes)}), idle {idle:.4f} of a core; "
            f"reference work {reference_ms:.2f} ms",
            file=sys.stderr,
            flush=True,
        )
        results.append(
            {
                "contacts": history,
                "routing_cpu_ms_per_contact": round(per_contact_ms, 4),
                "probe_cpu_ms_per_contact": [round(p, 4) for p in probes],
                "routing_idle_share_of_core": round(idle, 5),
                "routing_resident_mb": round(resident_mb(routing), 1),
                "reference_work_ms": round(reference_ms, 3),
                "reference_work_ms_each": [round(speed, 3) for speed in speeds],
                # Routing's figures in units of the reference work (see the module's docstring).
                "routing_cpu_per_contact_in_reference_works": round(per_contact_ms / reference_ms, 5),
                "routing_idle_in_reference_works_per_second": round(idle * 1000 / reference_ms, 5),
                "segment_contacts": segment,
                "segment_seconds": round(segment_seconds, 1),
                "segment_cpu_ms_per_contact": round(segment_cpu * 1000 / segment, 4) if segment > 0 else None,
            }
        )
    first, last = results[0], results[-1]

    def growth(key: str) -> float:
        return last[key] / first[key] - 1.0 if first[key] else float("nan")

    return {
        "measured": True,
        "batch": batch,
        "probe_batches": PROBE_BATCHES,
        "idle_seconds": IDLE_SECONDS,
        "checkpoints": results,
        "cpu_per_contact_growth": round(growth("routing_cpu_per_contact_in_reference_works"), 4),
        "idle_cpu_growth": round(growth("routing_idle_in_reference_works_per_second"), 4),
        "cpu_per_contact_growth_raw": round(growth("routing_cpu_ms_per_contact"), 4),
        "idle_cpu_growth_raw": round(growth("routing_idle_share_of_core"), 4),
        "reference_work_growth": round(growth("reference_work_ms"), 4),
        "resident_memory_growth": round(growth("routing_resident_mb"), 4),
    }
