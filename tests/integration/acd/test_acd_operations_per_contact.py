"""What a routed contact costs in NATS operations on the ACD bucket, counted at the server:
one instance wired as the routing service wires it (outbox, announcements on the event stream)
routes contacts to agents who accept and complete each offer. The writer starts every change
from the value it knows (its own writes, its watch), so no key is read; several offers to one
agent share the ledger's write."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import StreamSettings, ensure_region_streams
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, js_publisher
from routing.adapters.acd_store import AcdOutboxMirror, AcdStore
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationState
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import REGION, TENANT, announcing

pytestmark = pytest.mark.timeout(60)

CONTACTS = 12
AGENTS = 3


class BucketOperations:
    """Reads and writes of the ACD bucket, by kind of key, as the server sees them."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self.reads = 0
        self.writes: Counter[str] = Counter()

    async def on_message(self, msg: Msg) -> None:
        subject = msg.subject
        if subject.startswith(
            (f"$JS.API.DIRECT.GET.KV_{self._bucket}", f"$JS.API.STREAM.MSG.GET.KV_{self._bucket}")
        ):
            self.reads += 1
        elif (
            subject.startswith(f"$KV.{self._bucket}.") and msg.reply and not msg.reply.startswith("$JS.ACK.")
        ):
            self.writes[subject.split(".")[2]] += 1  # a write (its watchers' copies have an ack reply)


async def test_a_routed_contact_reads_no_key_and_writes_each_record_once_per_step(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    bucket = naming.acd_bucket(REGION)
    kv = await ensure_bucket(js, bucket, history=1)
    store = AcdStore(kv, REGION)
    outbox = Outbox(kv, js_publisher(js), sent=store.sent)
    publish = announcing(js, store)

    service = AcdService(
        store, AcdOutboxMirror(kv, outbox), AcdSettings(60.0, 3600, 0.05, region=REGION), publish
    )
    await service.configure_queue(QueueSpec(TENANT, "support"))
    for n in range(AGENTS):
        await service.upsert_agent(TENANT, AgentProfile(f"a{n}", capacity={Channel.WEBCHAT: CONTACTS}))
        await service.set_agent_state(TENANT, f"a{n}", AgentState.AVAILABLE)
    counted = BucketOperations(bucket)
    subscription = await nc.subscribe(">", cb=counted.on_message)
    await nc.flush()
    await service.start()
    await outbox.start()
    try:
        # A backlog: each pass offers several contacts to one agent.
        await asyncio.gather(
            *(
                service.enqueue(TENANT, WaitingContact(f"c{n}", "support", Channel.WEBCHAT, 50, 0.0, n))
                for n in range(CONTACTS)
            )
        )

        async def all_held() -> bool:
            holds = [h for ledger in service.mirror.agents.values() for h in ledger.held]
            return len(holds) == CONTACTS and all(h.state is ReservationState.OFFERED for h in holds)

        await eventually(all_held)
        held = [(agent, h) for (_, agent), ledger in service.mirror.agents.items() for h in ledger.held]
        # The agents answer every offer at once.
        await asyncio.gather(*(service.accept(TENANT, agent, h.reservation_id) for agent, h in held))
        closed = await asyncio.gather(
            *(service.complete(TENANT, agent, h.reservation_id) for agent, h in held)
        )
        assert all(record.status is ContactStatus.CLOSED for record in closed)

        # The sweeper takes the last announcements out of the closed records.
        async def swept() -> bool:
            return outbox.pending_keys == 0

        await eventually(swept)
        await nc.flush()
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        await outbox.stop()
        await service.stop()
    assert counted.reads == 0
    # enqueue, offer, accept, complete, and the sweeper's removal of the completion's announcement
    assert counted.writes["contact"] <= 5 * CONTACTS
    # offer, accept and complete of one agent's contacts share the ledger's writes
    assert counted.writes["agent"] < 3 * CONTACTS
    # each offer's explanation rides with its write of the contact: no write of its own
    assert counted.writes["decision"] == 0
    explained = await service.explain(TENANT, "c0")
    assert explained is not None and explained["contact_id"] == "c0" and explained["queue"] == "support"
