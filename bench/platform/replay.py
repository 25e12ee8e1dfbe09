"""The replay run: does routing's cost stay flat as history grows?

Two regions run side by side, each as `ccctl up` starts it with no agents logged in: one whose
routing is fed the history (`contacts`), and a baseline fed only the first checkpoint's number of
contacts. Both are fed contacts that come and go, as the region's stream carries them: a
`ContactQueued` for the bench queue, then its `ContactClosed` (the customer left before anyone
answered). In batches: the batch's contacts are queued, routing's queued consumer drains, then
they are closed and routing's closed consumer drains, so every contact routing ever saw is
closed again.

At each checkpoint a fresh baseline region is fed the first checkpoint's number, while the
history region is fed on to the checkpoint; then both are measured the same way at the same
time: PROBE_BATCHES more batches fed to both at once, each pair measured on its own (routing's
CPU per contact in each, and their ratio), then both routings' idle CPU over the same
IDLE_WINDOWS windows of IDLE_WINDOW_SECONDS with nothing arriving, and their resident memory.
The growth the goal reads is of the history region against the baseline measured beside it: the
median of the pairs' ratios, and the median of the idle windows' ratios.

Why side by side: this machine's speed moves during a run this long (a shared host: another
guest's load, time stolen from this one), within a checkpoint by a third for minutes at a time,
and routing's CPU seconds move with it. Two checkpoints measured one after the other then
compare two hosts as much as two histories: the same routing read +27% in one run and -2% in
another. Fed and measured at the same moments, both routings meet the same host, and the first
checkpoint (the same history in both) shows how far apart two identical routings read.

CPU is read from the scheduler's nanosecond run times of routing's threads, not the 10 ms ticks of
`/proc/<pid>/stat`: idle routing uses a fiftieth of a core, a fifth of a second in ten, which
ticks would count to within 5%. The contacts fed to the history region between checkpoints are
counted as a whole too (`segment_cpu_ms_per_contact`), for reference.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext

from bench.platform.region import BRAND, QUEUE, REGION, TENANT, BenchRegion
from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

SOURCE = "bench-replay"
#: Idle is measured over two whole periods of routing's slowest periodic job (the surge watch
#: evaluates every 60 s), in short windows paired like the batches. Over one 60 s or 120 s window,
#: two routings with the same history measured at the same time read up to 10% apart: idle routing
#: uses a fiftieth of a core, and a neighbour's burst that slows one side for a few seconds moves
#: the whole window. The median of twelve windows' ratios leaves such a burst out.
IDLE_WINDOWS = 12
IDLE_WINDOW_SECONDS = 10.0
#: Pairs of batches measured one by one at each checkpoint.
PROBE_BATCHES = 9
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


def paired_ratio(pairs: list[tuple[float, float]]) -> float:
    """The median of `history / baseline` over pairs measured at the same moments: a pair that met
    a slow spell of the host is slow on both sides, and one that met a neighbour's burst on one
    side only does not move the median."""
    ratios = [history / baseline for history, baseline in pairs if baseline > 0]
    return statistics.median(ratios) if ratios else float("nan")


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


@dataclass
class Fed:
    """One region's routing and how many contacts it has been fed."""

    region: BenchRegion
    js: JetStreamContext
    publisher: EventPublisher
    routing: int
    fed: int = 0

    @classmethod
    def of(cls, region: BenchRegion) -> Fed:
        js = region.nc.jetstream()
        return cls(region, js, EventPublisher(js, REGION), region.processes()["routing"])

    async def feed(self, count: int, batch: int) -> float:
        """Feed `count` contacts in batches; routing's CPU seconds meanwhile."""
        cpu0 = run_seconds(self.routing)
        goal = self.fed + count
        while self.fed < goal:
            ids = [uuid.uuid4().hex for _ in range(min(batch, goal - self.fed))]
            await publish_all(self.publisher, [queued(c) for c in ids])
            await drained(self.js, QUEUED_CONSUMER)
            await publish_all(self.publisher, [closed(c) for c in ids])
            await drained(self.js, CLOSED_CONSUMER)
            self.fed += len(ids)
        return run_seconds(self.routing) - cpu0


async def side_by_side(history: Fed, baseline: Fed, batch: int) -> dict[str, Any]:
    """Both routings measured at the same moments: PROBE_BATCHES pairs of batches, then idle."""
    contacts, baseline_contacts = history.fed, baseline.fed
    pairs: list[tuple[float, float]] = []
    for _ in range(PROBE_BATCHES):
        spent = await asyncio.gather(history.feed(batch, batch), baseline.feed(batch, batch))
        pairs.append((spent[0] * 1000 / batch, spent[1] * 1000 / batch))
    windows: list[tuple[float, float]] = []
    for _ in range(IDLE_WINDOWS):
        before = run_seconds(history.routing), run_seconds(baseline.routing)
        await asyncio.sleep(IDLE_WINDOW_SECONDS)
        windows.append(
            (
                (run_seconds(history.routing) - before[0]) / IDLE_WINDOW_SECONDS,
                (run_seconds(baseline.routing) - before[1]) / IDLE_WINDOW_SECONDS,
            )
        )
    idle = statistics.fmean(h for h, _ in windows), statistics.fmean(b for _, b in windows)
    idle_ratio = paired_ratio(windows)
    memory = resident_mb(history.routing), resident_mb(baseline.routing)
    cpu_ratio = paired_ratio(pairs)
    history_ms = statistics.median(h for h, _ in pairs)
    baseline_ms = statistics.median(b for _, b in pairs)
    print(
        f"bench-platform replay: {contacts} contacts against {baseline_contacts}: routing "
        f"{history_ms:.3f} against {baseline_ms:.3f} "
        f"ms CPU/contact (median ratio of {PROBE_BATCHES} pairs of {batch}: {cpu_ratio:.3f}; "
        f"{', '.join(f'{h:.3f}/{b:.3f}' for h, b in pairs)}), idle {idle[0]:.4f} against {idle[1]:.4f} "
        f"of a core (median ratio of {IDLE_WINDOWS} windows: {idle_ratio:.3f}), "
        f"{memory[0]:.0f} against {memory[1]:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return {
        "contacts": contacts,
        "baseline_contacts": baseline_contacts,
        "routing_cpu_ms_per_contact": round(history_ms, 4),
        "baseline_cpu_ms_per_contact": round(baseline_ms, 4),
        "probe_cpu_ms_per_contact": [[round(h, 4), round(b, 4)] for h, b in pairs],
        "cpu_per_contact_ratio": round(cpu_ratio, 4),
        "routing_idle_share_of_core": round(idle[0], 5),
        "baseline_idle_share_of_core": round(idle[1], 5),
        "idle_windows": [[round(h, 5), round(b, 5)] for h, b in windows],
        "idle_ratio": round(idle_ratio, 4),
        "idle_ratio_whole_time": round(idle[0] / idle[1], 4) if idle[1] else float("nan"),
        "routing_resident_mb": round(memory[0], 1),
        "baseline_resident_mb": round(memory[1], 1),
        "resident_memory_ratio": round(memory[0] / memory[1], 4) if memory[1] else float("nan"),
    }


async def replay(
    start: Callable[[str], Awaitable[BenchRegion]],
    stop: Callable[[BenchRegion], Awaitable[None]],
    checkpoints: list[int],
    batch: int,
) -> dict[str, Any]:
    """`start(name)` brings up a region (its name keeps its data apart), `stop` ends it."""
    checkpoints = sorted(checkpoints)
    base = checkpoints[0]
    history = Fed.of(await start("history"))
    results: list[dict[str, Any]] = []
    try:
        for checkpoint in checkpoints:
            baseline = Fed.of(await start(f"baseline-{checkpoint}"))
            try:
                segment = max(checkpoint - history.fed, 0)
                started = time.monotonic()
                segment_cpu, _ = await asyncio.gather(
                    history.feed(segment, batch), baseline.feed(base, batch)
                )
                segment_seconds = time.monotonic() - started
                compared = await side_by_side(history, baseline, batch)
            finally:
                await stop(baseline.region)
            compared["segment_contacts"] = segment
            compared["segment_seconds"] = round(segment_seconds, 1)
            compared["segment_cpu_ms_per_contact"] = (
                round(segment_cpu * 1000 / segment, 4) if segment > 0 else None
            )
            results.append(compared)
    finally:
        await stop(history.region)
    first, last = results[0], results[-1]
    return {
        "measured": True,
        "batch": batch,
        "probe_batches": PROBE_BATCHES,
        "idle_window_count": IDLE_WINDOWS,
        "idle_window_seconds": IDLE_WINDOW_SECONDS,
        "checkpoints": results,
        # The goal's growths: the history region against the baseline beside it, last checkpoint.
        "cpu_per_contact_growth": round(last["cpu_per_contact_ratio"] - 1.0, 4),
        "idle_cpu_growth": round(last["idle_ratio"] - 1.0, 4),
        "resident_memory_growth": round(last["resident_memory_ratio"] - 1.0, 4),
        # The same history on both sides: how far apart two identical routings read on this host.
        "same_history_cpu_difference": round(first["cpu_per_contact_ratio"] - 1.0, 4),
        "same_history_idle_difference": round(first["idle_ratio"] - 1.0, 4),
    }
