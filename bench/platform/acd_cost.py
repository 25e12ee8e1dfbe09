"""`python -m bench.platform.acd_cost`: what routing's ACD costs per contact, in its own process.

The stepped run measures the whole region, whose rates and CPU figures move with whatever else
the machine runs. This one keeps only the ACD as the routing service wires it (its bucket, the
outbox, announcements on the event stream, the watched working set) in this process, against a
nats-server of its own: AGENTS agents, contacts enqueued in waves of WAVE, every offer accepted
and completed at once. It reports this process's CPU per contact (the server's is not in it) and
the ACD bucket's operations per contact as the server counts them, so a change to the ACD's hot
path can be judged on a busy machine too (CPU time, unlike wall time, is the process's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, js_publisher
from ccmesh.testing.topologies import single_server
from routing.adapters.acd_event_codec import to_protobuf
from routing.adapters.acd_store import AcdOutboxMirror, AcdStore
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.events import RoutingEvent
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationState
from routing.service_layer.acd import AcdService, AcdSettings

REGION = "eu"
TENANT = "acme"
AGENTS = 40
CAPACITY = 5
WAVE = AGENTS * CAPACITY


async def _until(check: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the ACD did not get there in time")
        await asyncio.sleep(0.005)


async def measure(url: str, contacts: int) -> dict[str, Any]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    kv = await ensure_bucket(js, naming.acd_bucket(REGION), history=1)
    store = AcdStore(kv, REGION)
    outbox = Outbox(kv, js_publisher(js), sent=store.sent)
    publisher = EventPublisher(js, REGION)

    async def publish(event: RoutingEvent) -> None:
        message = to_protobuf(event, REGION)
        await publisher.publish(message)
        store.sent.add(message.event_id)

    service = AcdService(
        store, AcdOutboxMirror(kv, outbox), AcdSettings(60.0, 3600, 0.05, region=REGION), publish
    )
    await service.configure_queue(QueueSpec(TENANT, "support"))
    for n in range(AGENTS):
        await service.upsert_agent(TENANT, AgentProfile(f"a{n}", capacity={Channel.WEBCHAT: CAPACITY}))
        await service.set_agent_state(TENANT, f"a{n}", AgentState.AVAILABLE)
    await service.start()
    await outbox.start()
    stream = f"KV_{naming.acd_bucket(REGION)}"
    try:
        messages_before = (await js.stream_info(stream)).state.last_seq
        cpu_before, wall_before = time.process_time(), time.monotonic()
        for first in range(0, contacts, WAVE):
            ids = [f"c{n}" for n in range(first, min(contacts, first + WAVE))]
            await asyncio.gather(
                *(
                    service.enqueue(TENANT, WaitingContact(c, "support", Channel.WEBCHAT, 50, time.time()))
                    for c in ids
                )
            )

            def offered(count: int = len(ids)) -> bool:
                held = [h for ledger in service.mirror.agents.values() for h in ledger.held]
                return len(held) == count and all(h.state is ReservationState.OFFERED for h in held)

            await _until(offered)
            held = [(agent, h) for (_, agent), ledger in service.mirror.agents.items() for h in ledger.held]
            await asyncio.gather(*(service.accept(TENANT, agent, h.reservation_id) for agent, h in held))
            await asyncio.gather(*(service.complete(TENANT, agent, h.reservation_id) for agent, h in held))
            await _until(lambda: not any(ledger.held for ledger in service.mirror.agents.values()))
        await _until(lambda: outbox.pending_keys == 0)
        cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
        writes = (await js.stream_info(stream)).state.last_seq - messages_before
    finally:
        await outbox.stop()
        await service.stop()
        with contextlib.suppress(Exception):
            await nc.drain()
    return {
        "contacts": contacts,
        "agents": AGENTS,
        "wave": WAVE,
        "acd_cpu_ms_per_contact": round(cpu * 1000 / contacts, 3),
        "acd_bucket_writes_per_contact": round(writes / contacts, 2),
        "wall_seconds": round(wall, 2),
    }


async def measure_alone(contacts: int) -> dict[str, Any]:
    """`measure` against a nats-server started for it (port 0, a temporary store)."""
    with tempfile.TemporaryDirectory(prefix="bench-acd-cost-") as tmp:
        topology = single_server(Path(tmp) / "nats")
        try:
            return await measure(topology.urls[0], contacts)
        finally:
            topology.stop_all()


async def main(argv: list[str]) -> None:
    summary = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.platform.acd_cost", description=summary)
    parser.add_argument("--contacts", type=int, default=4000)
    options = parser.parse_args(argv)
    result = await measure_alone(options.contacts)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"benchmark": "platform.acd_cost", "results": result}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
