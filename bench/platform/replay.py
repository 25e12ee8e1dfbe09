"""The replay run: does routing's cost stay flat as history grows?

A fresh region (no agents logged in) is fed contacts that come and go, as the region's stream
carries them: a `ContactQueued` for the bench queue, then its `ContactClosed` (the customer left
before anyone answered). In batches: the batch's contacts are queued, routing's queued consumer
drains, then they are closed and routing's closed consumer drains, so every contact routing ever
saw is closed again. At each checkpoint (contacts fed so far) the bench records routing's CPU
per contact over the segment just fed, then its idle CPU over IDLE_SECONDS with nothing
arriving, and its resident memory.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

from nats.js import JetStreamContext

from bench.platform.meters import cpu_seconds
from bench.platform.region import BRAND, QUEUE, REGION, TENANT, BenchRegion
from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

SOURCE = "bench-replay"
IDLE_SECONDS = 10.0
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
    results: list[dict[str, Any]] = []
    for checkpoint in sorted(checkpoints):
        started, cpu0 = time.monotonic(), cpu_seconds(routing)
        segment = checkpoint - fed
        while fed < checkpoint:
            ids = [uuid.uuid4().hex for _ in range(min(batch, checkpoint - fed))]
            await publish_all(publisher, [queued(c) for c in ids])
            await drained(js, QUEUED_CONSUMER)
            await publish_all(publisher, [closed(c) for c in ids])
            await drained(js, CLOSED_CONSUMER)
            fed += len(ids)
        fed_seconds = time.monotonic() - started
        cpu_fed = cpu_seconds(routing) - cpu0
        idle0 = cpu_seconds(routing)
        await asyncio.sleep(IDLE_SECONDS)
        idle = (cpu_seconds(routing) - idle0) / IDLE_SECONDS
        per_contact_ms = cpu_fed * 1000 / max(1, segment)
        print(
            f"bench-platform replay: {checkpoint} contacts, routing {per_contact_ms:.2f} ms "
            f"CPU/contact over the last {segment}, idle {idle:.3f} of a core",
            file=sys.stderr,
            flush=True,
        )
        results.append(
            {
                "contacts": checkpoint,
                "segment_contacts": segment,
                "segment_seconds": round(fed_seconds, 1),
                "routing_cpu_ms_per_contact": round(cpu_fed * 1000 / max(1, segment), 3),
                "routing_idle_share_of_core": round(idle, 4),
                "routing_resident_mb": round(resident_mb(routing), 1),
            }
        )
    first, last = results[0], results[-1]

    def growth(key: str) -> float:
        return last[key] / first[key] - 1.0 if first[key] else float("nan")

    return {
        "measured": True,
        "checkpoints": results,
        "cpu_per_contact_growth": round(growth("routing_cpu_ms_per_contact"), 4),
        "idle_cpu_growth": round(growth("routing_idle_share_of_core"), 4),
        "resident_memory_growth": round(growth("routing_resident_mb"), 4),
    }
