"""Timeouts and an agent going offline put the contact back in its queue, each with its own
event (OfferTimedOut, ContactRequeued with the reason), never a second ContactQueued."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import to_protobuf
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import RoutingEvent
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import TENANT, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)


async def test_timeout_and_offline_publish_their_own_events(nats_url: str, nc: NATS) -> None:
    published: list[events_pb2.Event] = []

    async def publish(event: RoutingEvent) -> None:
        published.append(to_protobuf(event, "eu"))

    instance = await start_instance(nats_url, AcdSettings(20.0, 3600, 0.1, region="eu"), run=False)
    base = instance.service
    clock = [1000.0]
    acd = AcdService(base.store, base.mirror, base.settings, publish, clock=lambda: clock[0])
    try:
        await acd.start()
        await acd.configure_queue(QueueSpec(TENANT, "support"))
        await acd.upsert_agent(TENANT, AgentProfile("a1"))
        await acd.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
        await acd.enqueue(TENANT, WaitingContact("c1", "support", Channel.WEBCHAT, 50, 1000.0))

        async def offered_to_a1() -> ContactRecord | None:
            await acd.route_pass()
            record = acd.mirror.contacts.get((TENANT, "c1"))
            return record if record is not None and record.status is ContactStatus.OFFERED else None

        first = await eventually(offered_to_a1)
        clock[0] = 1021.0  # past the 20 s answer deadline
        await acd.sweep()

        # a1 passed on it by letting it time out, but is the only agent: it is offered again
        # (the running loop may do that before this test looks, so look for a new reservation).
        async def offered_again() -> ContactRecord | None:
            record = await offered_to_a1()
            return record if record is not None and record.reservation_id != first.reservation_id else None

        second = await eventually(offered_again)
        assert second.reservation_id != first.reservation_id

        def kinds_published(count: int) -> Callable[[], Awaitable[list[str | None]]]:
            # The mirror shows a write before the writer has published its event: wait for it.
            async def probe() -> list[str | None]:
                kinds = [e.WhichOneof("payload") for e in published]
                return kinds if len(kinds) >= count else []

            return probe

        await eventually(kinds_published(4))
        await acd.set_agent_state(TENANT, "a1", AgentState.OFFLINE)

        kinds = await eventually(kinds_published(5))
        assert kinds == [
            "contact_queued",
            "contact_offered",
            "offer_timed_out",
            "contact_offered",
            "contact_requeued",
        ]
        timed_out = published[2].offer_timed_out
        assert (timed_out.agent_id, timed_out.reservation_id) == ("a1", first.reservation_id)
        requeued = published[4].contact_requeued
        assert (requeued.reason, requeued.agent_id, requeued.queue) == ("agent_offline", "a1", "support")
        record = acd.mirror.contacts.get((TENANT, "c1"))
        assert record is not None and record.contact.enqueued_at == 1000.0  # its original position
    finally:
        await acd.stop()
        await stop_instance(instance)
