"""Queue features over fakes: a call-back request is placed when an agent accepts it; a queue's
closed action must name a known queue or region; the tenant's brand sharing reaches the queue;
statistics carry the measured prediction; completion and abandonment record when they ended."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes.routing_fakes import TENANT, acd_context, decided

from ccmesh.channels import Channel
from contactcenter.common.v1.common_pb2 import CHANNEL_KIND_WHATSAPP
from routing.adapters.acd_event_codec import to_protobuf
from routing.domain.agents import AcdInputError, AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import CallbackPlaced, CallbackScheduled, ContactAccepted, ContactTurnedAway
from routing.domain.hours import BusinessHours
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.acd_enqueue import Enqueueing
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence
from routing.service_layer.acd_stats import Stats


class Directory:
    def __init__(self, sharing: str = "", regions: frozenset[str] = frozenset({"eu", "us"})) -> None:
        self.sharing = sharing
        self.regions = regions

    def brand_sharing(self, tenant: str) -> str:
        return self.sharing

    def known_regions(self) -> frozenset[str]:
        return self.regions


async def test_a_callback_request_is_placed_when_an_agent_accepts_it() -> None:
    ctx, store, events, _ = acd_context()
    enqueueing, offers = Enqueueing(ctx), Offers(ctx)
    hours = BusinessHours.parse("UTC", {}, closed_action="callback")
    await enqueueing.configure_queue(QueueSpec(TENANT, "support", hours=hours))
    presence = Presence(ctx, offers)
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    record = await enqueueing.enqueue(TENANT, WaitingContact("c1", "support", Channel.SMS, 50, 990.0))
    assert [type(e) for e in events.events][-1] is CallbackScheduled
    await offers.offer(TENANT, record, decided("c1"), 1000.0)
    assert events.of(CallbackPlaced) == []  # offered is not yet placed: the agent may decline
    await offers.accept(TENANT, "a1", store.contact("c1").reservation_id)
    assert [type(e) for e in events.events][-2:] == [ContactAccepted, CallbackPlaced]


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        (
            BusinessHours.parse("UTC", {}, closed_action="queue", closed_target_queue="nowhere"),
            "hours.closed_target_queue",
        ),
        (
            BusinessHours.parse("UTC", {}, closed_action="queue", closed_target_queue="support"),
            "hours.closed_target_queue",
        ),
        (
            BusinessHours.parse(
                "UTC", {}, closed_action="queue", closed_target_queue="x", closed_target_region="mars"
            ),
            "hours.closed_target_region",
        ),
    ],
)
async def test_a_closed_action_naming_an_unknown_queue_or_region_is_refused(
    hours: BusinessHours, field: str
) -> None:
    ctx, store, _, _ = acd_context()
    ctx.directory = Directory()
    with pytest.raises(AcdInputError) as caught:
        await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support", hours=hours))
    assert caught.value.field == field
    assert ctx.mirror.queues == {} and await store.get_queue(TENANT, "support") is None


async def test_a_closed_action_to_another_known_regions_queue_is_accepted() -> None:
    ctx, _, _, _ = acd_context()
    ctx.directory = Directory()
    hours = BusinessHours.parse(
        "UTC", {}, closed_action="queue", closed_target_queue="support", closed_target_region="us"
    )
    await Enqueueing(ctx).configure_queue(QueueSpec(TENANT, "support", hours=hours))
    assert (TENANT, "support") in ctx.mirror.queues


@pytest.mark.parametrize(
    ("tenant", "queue_setting", "shared"),
    [("shared", "", True), ("shared", "isolated", False), ("isolated", "", False)],
)
async def test_the_tenants_brand_sharing_reaches_the_queue(
    tenant: str, queue_setting: str, shared: bool
) -> None:
    ctx, _, _, _ = acd_context()
    ctx.directory = Directory(sharing=tenant)
    await Enqueueing(ctx).configure_queue(
        QueueSpec(TENANT, "retail", brand="retail", brand_sharing=queue_setting)
    )
    assert ctx.mirror.queues[(TENANT, "retail")].all_brands is shared


async def test_completion_and_abandonment_record_when_they_ended_and_stats_measure_them() -> None:
    ctx, store, events, clock = acd_context()
    enqueueing, offers = Enqueueing(ctx), Offers(ctx)
    await enqueueing.configure_queue(QueueSpec(TENANT, "support"))
    presence = Presence(ctx, offers)
    await presence.upsert_agent(TENANT, AgentProfile("a1"))
    await presence.set_agent_state(TENANT, "a1", AgentState.AVAILABLE)
    clock.now = 1000.0
    record = await enqueueing.enqueue(TENANT, WaitingContact("c1", "support", Channel.VOICE, 50, 1000.0))
    await offers.offer(TENANT, record, decided("c1"), 1000.0)
    reservation = store.contact("c1").reservation_id
    clock.now = 1010.0
    await offers.accept(TENANT, "a1", reservation)
    clock.now = 1130.0
    done = await offers.complete(TENANT, "a1", reservation)
    assert (done.answered_at, done.closed_at) == (1010.0, 1130.0)
    await enqueueing.enqueue(TENANT, WaitingContact("c2", "support", Channel.VOICE, 50, 1100.0))
    gone = await close_contact(store, events, TENANT, "c2", 1160.0)
    assert (gone.status, gone.closed_at, gone.answered_at) == (ContactStatus.CLOSED, 1160.0, 0.0)
    report = await Stats(ctx).queue_stats(TENANT, "support", channel=Channel.VOICE)
    prediction = report.prediction
    assert prediction.handle.samples == 1 and prediction.handle.seconds == pytest.approx(
        0.2 * 120 + 0.8 * 300
    )
    assert prediction.abandoned == 1 and report.staffed_agents == 1
    assert prediction.arrivals_per_hour == pytest.approx(8.0)  # two arrivals in 15 minutes
    assert report.predicted_service_level == prediction.erlang_c.service_level


def test_the_customer_is_told_on_their_channel_and_the_call_back_goes_to_the_gateway() -> None:
    record = ContactRecord(
        WaitingContact("c1", "support", Channel.WHATSAPP, 50, 1.0), closed_action="message"
    )
    told = to_protobuf(ContactTurnedAway(TENANT, record, "Back on Monday."), "eu")
    assert told.WhichOneof("payload") == "message_sent"
    assert (told.message_sent.text, told.message_sent.channel) == ("Back on Monday.", CHANNEL_KIND_WHATSAPP)
    assert told.message_sent.message_id and told.contact_id == "c1"
    again = to_protobuf(ContactTurnedAway(TENANT, record, "Back on Monday."), "eu")
    assert again.event_id == told.event_id  # a retried publish is dropped by the stream
    placed = to_protobuf(CallbackPlaced(TENANT, replace(record, reservation_id="r1")), "eu")
    assert placed.WhichOneof("payload") == "callback_requested"
    assert (placed.callback_requested.queue, placed.callback_requested.channel) == ("support", "voice")
