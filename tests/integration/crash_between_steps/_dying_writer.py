"""A routing writer run as its own process: it reserves an agent for a contact, prints
`written` once the reservation is stored, and then hangs before publishing the ContactOffered
(the test SIGKILLs it there). Run as `python _dying_writer.py <nats-url>`."""

from __future__ import annotations

import asyncio
import sys

import nats

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.kv import ensure_bucket
from routing.adapters.acd_store import AcdStore, KeyMirror
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.events import ContactOffered, RoutingEvent
from routing.domain.matching import Decision
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

REGION, TENANT = "eu", "acme"


async def main(url: str) -> None:
    nc = await nats.connect(url)
    kv = await ensure_bucket(nc.jetstream(), naming.acd_bucket(REGION), history=1)

    async def announce(event: RoutingEvent) -> None:
        if isinstance(event, ContactOffered):
            print("written", flush=True)
            await asyncio.Event().wait()  # killed here, between the write and the publish

    service = AcdService(
        AcdStore(kv, REGION), KeyMirror(kv), AcdSettings(600.0, 3600, 0.05, region=REGION), announce
    )
    await service.configure_queue(QueueSpec(TENANT, "support"))
    await service.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
    await service.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await service.enqueue(TENANT, WaitingContact("k1", "support", Channel.WEBCHAT, 50, 0.0))
    await service.offers.offer(
        TENANT, record, Decision("k1", "support", "a1", "longest_idle", 0, ()), service.now()
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
