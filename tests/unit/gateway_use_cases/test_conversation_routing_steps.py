"""A journey step routing ran by itself (an external system's flow event, a long wait that timed
out) reaches the customer as any step does: its prompts, worded by the contact's endpoint, go out
on the channel the customer last wrote on, once, and its call back offer is placed."""

from __future__ import annotations

from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeIdentity,
    FakeRouting,
    channel_endpoint,
    directory_of,
    sms,
)

from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.conversation import RoutingStep
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations

PROMPTS = {"thanks": "Payment received, thank you!", "thanks.es": "¡Pago recibido, gracias!"}
WAITING = routing_pb2.Journey(status="waiting", waiting_for="integration")


class World:
    def __init__(self) -> None:
        self.contacts, self.events = FakeContacts(), FakeEvents()
        call = routing_pb2.JourneyAction(kind="call_integration", name="payment-confirmed")
        self.conversations = Conversations(
            region=REGION,
            store=self.contacts,
            routing=FakeRouting(start_actions=[call], start_journey=WAITING),
            endpoints=directory_of(channel_endpoint("acme-pay", flow="payments", prompts=PROMPTS)),
            events=self.events,
        )

    async def contact_waiting_for_payment(self) -> str:
        accepted, _ = await accept_inbound(
            sms("SM1", entry_point="acme-pay", text="I paid"),
            region=REGION,
            store=self.contacts,
            identity=FakeIdentity(),
            events=self.events,
            conversations=self.conversations,
        )
        return str(accepted.contact_id)

    def sent(self) -> list[tuple[str, int, str]]:
        return [
            (e.message_sent.text, e.message_sent.channel, e.event_id)
            for e in self.events.of_kind("message_sent")
        ]


def step(contact_id: str, *actions: routing_pb2.JourneyAction, language: str = "") -> RoutingStep:
    return RoutingStep(
        tenant_id="acme",
        contact_id=contact_id,
        event_id="routing-continued-1",
        actions=actions,
        status="ended",
        waiting_for="",
        language=language,
    )


THANKS = routing_pb2.JourneyAction(kind="send_prompt", node="thank", name="thanks")
HAND_OFF = routing_pb2.JourneyAction(kind="hand_off", node="to-billing", name="billing")


async def test_the_prompts_of_a_step_routing_ran_go_out_on_the_customers_channel_once() -> None:
    world = World()
    contact = await world.contact_waiting_for_payment()
    assert world.sent() == []  # the journey waits for the payment system: nothing to say yet

    done = await world.conversations.after_routing_step(step(contact, THANKS, HAND_OFF))
    assert done == 2
    assert world.sent() == [
        ("Payment received, thank you!", common_pb2.CHANNEL_KIND_SMS, "routing-continued-1.0")
    ]
    record, _ = await world.contacts.contact("acme", contact)
    assert record is not None and (record.journey.status, record.journey.waiting_for) == ("ended", "")

    # The same step delivered again (a redelivery) sends nothing twice.
    await world.conversations.after_routing_step(step(contact, THANKS, HAND_OFF))
    assert len(world.sent()) == 1


async def test_the_prompts_are_worded_in_the_language_the_journey_learned() -> None:
    world = World()
    contact = await world.contact_waiting_for_payment()
    await world.conversations.after_routing_step(step(contact, THANKS, language="es"))
    assert [text for text, _, _ in world.sent()] == ["¡Pago recibido, gracias!"]


async def test_a_call_back_offer_of_such_a_step_is_requested() -> None:
    world = World()
    contact = await world.contact_waiting_for_payment()
    callback = routing_pb2.JourneyAction(kind="schedule_callback", name="billing", channel="voice")
    await world.conversations.after_routing_step(step(contact, callback))
    (requested,) = world.events.of_kind("callback_requested")
    assert (requested.callback_requested.queue, requested.contact_id) == ("billing", contact)


async def test_a_step_of_a_contact_this_gateway_does_not_know_sends_nothing() -> None:
    world = World()
    assert await world.conversations.after_routing_step(step("no-such-contact", THANKS)) == 0
    assert world.events.of_kind("message_sent") == []
