"""`HandOver` over fakes (another region stores the contact, or refuses it and the contact stays
here), and the event bus that hands every domain event to the metrics and the publisher."""

from __future__ import annotations

from fakes.routing_fakes import TENANT, RecordedEvents, acd_context

from ccmesh.channels import Channel
from routing.domain.contacts import ContactStatus
from routing.domain.events import ContactHandedOver, ContactQueued, RoutingEvent
from routing.domain.overflow import HandOverRefused, OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.event_bus import EventBus

RULE = OverflowRule("to-us", "billing", "us-billing", target_region="us", wait_seconds_over=60)


class FakeRegions:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.asked: list[tuple[str, str, WaitingContact]] = []

    async def enqueue(self, region: str, tenant: str, contact: WaitingContact) -> str:
        self.asked.append((region, tenant, contact))
        if self.refuse:
            raise HandOverRefused("unknown queue")
        return "waiting"


async def test_a_contact_another_region_stored_leaves_this_queue() -> None:
    ctx, store, events, _ = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "billing"))
    contact = WaitingContact("c1", "billing", Channel.SMS, 50, 900.0, preferred_agent="a9")
    record = await Enqueueing(ctx).enqueue(TENANT, contact)
    regions = FakeRegions()
    hand_over = HandOver(store, regions, events, deadline_seconds=15, retry_seconds=60)
    done = await hand_over.start(TENANT, record, RULE, "waited 100s > 60s", 1000.0)
    assert done is not None and done.status is ContactStatus.TRANSFERRED
    ((region, _, sent),) = regions.asked
    assert (region, sent.queue, sent.preferred_agent) == ("us", "us-billing", "")  # its agents are not theirs
    (handed,) = events.of(ContactHandedOver)
    assert isinstance(handed, ContactHandedOver) and (handed.to_region, handed.to_queue) == (
        "us",
        "us-billing",
    )


async def test_a_refused_hand_over_keeps_the_contact_here_and_waits_to_retry() -> None:
    ctx, store, events, _ = acd_context()
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "billing"))
    record = await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "billing", Channel.SMS, 50, 900.0))
    hand_over = HandOver(store, FakeRegions(refuse=True), events, deadline_seconds=15, retry_seconds=60)
    back = await hand_over.start(TENANT, record, RULE, "waited", 1000.0)
    assert back is not None and back.status is ContactStatus.WAITING
    assert events.of(ContactHandedOver) == []
    assert not hand_over.may_try(TENANT, "c1", 1030.0) and hand_over.may_try(TENANT, "c1", 1061.0)


async def test_the_event_bus_gives_each_event_to_every_subscriber_in_order() -> None:
    ctx, _, _, _ = acd_context()
    seen: list[str] = []
    published = RecordedEvents()

    def count(event: RoutingEvent) -> None:  # a plain function, like the metrics counter
        seen.append(f"count {event.outcome} {event.queue}")

    bus = EventBus(count, published)
    ctx.events = bus
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support"))
    await Enqueueing(ctx).enqueue(TENANT, WaitingContact("c1", "support", Channel.SMS, 50, 900.0))
    assert seen == ["count queued support"]
    assert [type(e) for e in published.events] == [ContactQueued]
