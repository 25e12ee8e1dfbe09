"""A routing pass while every agent is busy costs nothing per waiting contact: the backlog is not
read unless someone has room or a rule may move it. Contacts widened to another queue are indexed
by that queue, so the pass finds them without scanning every waiting contact."""

from __future__ import annotations

from dataclasses import replace

from fakes.routing_fakes import TENANT, acd_context

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.working_set import WorkingSet
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_routing import RoutingPass


class NotToBeRead(dict[str, ContactRecord]):
    def values(self):  # type: ignore[override]
        raise AssertionError("the pass read the waiting contacts although nobody had room")


async def busy_agent_and_backlog(ctx: AcdContext, contacts: int) -> None:
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, Offers(ctx))
    await presence.upsert_agent(TENANT, AgentProfile("alice", capacity={Channel.SMS: 1}))
    await presence.set_agent_state(TENANT, "alice", AgentState.AVAILABLE)
    for n in range(contacts):
        await Enqueueing(ctx).enqueue(TENANT, WaitingContact(f"c{n}", "support", Channel.SMS, 50, 900.0 + n))


async def test_with_every_agent_busy_the_backlog_is_not_read() -> None:
    ctx, store, _, _ = acd_context()
    await busy_agent_and_backlog(ctx, 50)
    routing = RoutingPass(ctx, Offers(ctx))
    assert await routing.run() == 1  # alice takes the first; 49 wait
    key = (TENANT, "support")
    ctx.mirror.waiting[key] = NotToBeRead(ctx.mirror.waiting[key])
    assert await routing.run() == 0
    assert len(ctx.mirror.waiting[key]) == 49
    assert store.contact("c0").status is ContactStatus.OFFERED


def test_a_widened_contact_is_listed_under_the_queue_it_was_widened_to_while_it_waits() -> None:
    view = WorkingSet()
    waiting = ContactRecord(WaitingContact("c1", "billing", Channel.SMS, 50, 900.0))
    view.put_contact(TENANT, "c1", waiting)
    assert not view.widened
    widened = replace(waiting, widened_to=("general", "sales"))
    view.put_contact(TENANT, "c1", widened)
    assert view.widened == {(TENANT, "general"): {"c1": widened}, (TENANT, "sales"): {"c1": widened}}
    view.put_contact(TENANT, "c1", replace(widened, status=ContactStatus.OFFERED, reservation_id="r1"))
    assert not view.widened
