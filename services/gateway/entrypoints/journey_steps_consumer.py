"""Journey steps routing ran by itself (`journey_continued`): their prompts reach the customer.

Routing continues a journey without a call from the gateway when an external system's flow
event arrives or a long wait at an integration node runs out, on whichever routing instance is
alive. One durable consumer, shared by the region's gateway instances, hands each such step to
the conversation use case, which sends its prompts as for a step the gateway drove.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from contactcenter.events.v1 import events_pb2
from gateway.domain.conversation import RoutingStep
from gateway.service_layer.conversation import Conversations

DURABLE = "gateway-journey-steps"


def routing_step(event: events_pb2.Event) -> RoutingStep:
    continued = event.journey_continued
    return RoutingStep(
        tenant_id=event.tenant.tenant_id,
        contact_id=event.contact_id,
        event_id=event.event_id,
        actions=tuple(continued.actions),
        status=continued.status,
        waiting_for=continued.waiting_for,
        language=continued.language,
    )


def journey_steps_consumer(
    js: JetStreamContext, region: str, conversations: Conversations
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        if event.WhichOneof("payload") == "journey_continued":
            await conversations.after_routing_step(routing_step(event))

    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "journey_continued", "*"),
    )
    return DurableConsumer(js, region, settings, handle)
