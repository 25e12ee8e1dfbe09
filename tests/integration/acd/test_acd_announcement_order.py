"""An agent's state change and the answer that made it reach the stream in the order they
happened, although the state change is no longer waited for before the answer is announced:
accepting makes the agent busy, then the contact is accepted; completing the last contact
makes the agent available, then the contact is closed."""

from __future__ import annotations

import contextlib

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import StreamSettings, ensure_region_streams
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, js_publisher
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_store import AcdOutboxMirror, AcdStore
from routing.adapters.agent_state_events import AgentStateAnnouncer
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import REGION, TENANT, announcing

pytestmark = pytest.mark.timeout(30)


async def test_state_changes_are_told_before_the_answers_that_caused_them(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    kv = await ensure_bucket(js, naming.acd_bucket(REGION), history=1)
    store = AcdStore(kv, REGION, agent_states=AgentStateAnnouncer(REGION, publish=js_publisher(js)))
    outbox = Outbox(kv, js_publisher(js), sent=store.sent)
    publish = announcing(js, store)

    told: list[str] = []

    async def on_event(msg: Msg) -> None:
        told.append(events_pb2.Event.FromString(msg.data).WhichOneof("payload") or "")

    subscription = await nc.subscribe(naming.event_subject(REGION, TENANT, "*", "*"), cb=on_event)
    service = AcdService(
        store, AcdOutboxMirror(kv, outbox), AcdSettings(60.0, 3600, 0.05, region=REGION), publish
    )
    try:
        await service.configure_queue(QueueSpec(TENANT, "support"))
        await service.upsert_agent(TENANT, AgentProfile("a1", capacity={Channel.WEBCHAT: 1}))
        await service.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
        await service.start()
        await service.enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 0.0))

        async def offered() -> str:
            ledger = service.mirror.agents.get((TENANT, "a1"))
            return ledger.held[0].reservation_id if ledger is not None and ledger.held else ""

        reservation = await eventually(offered)
        await service.accept(TENANT, "a1", reservation)
        await service.complete(TENANT, "a1", reservation)

        async def all_told() -> bool:
            return "contact_closed" in told

        await eventually(all_told)
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        await service.stop()
    answers = [kind for kind in told if kind in ("agent_state_changed", "contact_accepted", "contact_closed")]
    # available (set by the agent), busy, accepted, available (work done), closed
    assert answers == [
        "agent_state_changed",
        "agent_state_changed",
        "contact_accepted",
        "agent_state_changed",
        "contact_closed",
    ]
