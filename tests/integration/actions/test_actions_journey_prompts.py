"""A journey waiting for a payment system outlives a routing restart, and what routing does by
itself reaches the customer: with the real identity, routing, gateway and integration services,
an SMS customer's journey waits at a long integration node; routing restarts (the new instance
ran no step of it); the payment system's flow event, taken by the new instance, sends the next
prompt to the customer and queues the contact, and a wait that runs out takes its failure branch
with its own prompt. Asserted on the region's event stream, as the gateway's outbound consumer
and the ACD see it."""

from __future__ import annotations

from typing import Any

import pytest
from _gateway_conversation import apply_endpoints, contact_events, endpoint
from _platform import Platform, eventually

from actions._actions import crm, header
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.integration.v1 import integration_pb2
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(120)

SMS = common_pb2.CHANNEL_KIND_SMS
PROMPTS = {"thanks": "Payment received, thank you!", "payment-missing": "We did not get your payment."}

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: payments}
spec:
  queues: [billing]
  prompts: [thanks, payment-missing]
  integrations: [payment-confirmed]
  flows: [FLOW]
"""

#: Waits WAIT seconds (longer than the gateway's call) for the payment system's event.
FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: FLOW}
spec:
  start: await-payment
  nodes:
    - {id: await-payment, kind: integration, integration: payment-confirmed, timeoutSeconds: WAIT,
       store: payment, next: thank, onFailure: unpaid}
    - {id: thank, kind: message, prompt: thanks, next: to-billing}
    - {id: to-billing, kind: queue, queue: billing}
    - {id: unpaid, kind: message, prompt: payment-missing, next: stop}
    - {id: stop, kind: end, outcome: unpaid}
"""


async def publish(routing: Any, flow: str, wait_seconds: int) -> None:
    files = [
        routing_pb2.FlowSourceFile(name=f"{flow}/catalog.yaml", content=CATALOG.replace("FLOW", flow)),
        routing_pb2.FlowSourceFile(
            name=f"{flow}/{flow}.yaml", content=FLOW.replace("FLOW", flow).replace("WAIT", str(wait_seconds))
        ),
    ]
    published = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow=flow, files=files)
    )
    await routing.SetFlowAlias(
        routing_pb2.SetFlowAliasRequest(tenant_id="acme", flow=flow, alias="live", version=published.version)
    )


def sms(provider_id: str, entry_point: str, phone: str) -> gateway_pb2.SubmitInboundMessageRequest:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        channel=SMS,
        entry_point=entry_point,
        text="I have paid",
        provider_message_id=provider_id,
        **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=phone)},  # type: ignore[arg-type]
    )


async def waiting_contact(platform: Platform, gateway: Any, entry_point: str, phone: str) -> str:
    accepted = await gateway.SubmitInboundMessage(sms(f"SM-{entry_point}", entry_point, phone))
    routing = platform.stub(RoutingServiceStub, role="admin")
    reply = await routing.GetJourney(
        routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=accepted.contact_id)
    )
    assert (reply.journey.status, reply.journey.waiting_for) == ("waiting", "integration")
    return str(accepted.contact_id)


def of_kind(events: list[Any], kind: str) -> list[Any]:
    return [e for e in events if e.WhichOneof("payload") == kind]


def bot_texts(events: list[Any]) -> list[str]:
    return [e.message_sent.text for e in of_kind(events, "message_sent") if e.message_sent.sender == "bot"]


async def test_after_a_routing_restart_the_flow_event_and_the_timeout_reach_the_customer(
    platform: Platform,
) -> None:
    await apply_endpoints(
        platform.nc,
        endpoint("pay-sms", "sms", "+442071830011", flow="payments", prompts=PROMPTS),
        endpoint("quick-pay-sms", "sms", "+442071830012", flow="quick-payments", prompts=PROMPTS),
    )
    await platform.start("identity", "routing", "gateway", "integration")
    routing = platform.stub(RoutingServiceStub, role="admin")
    await routing.ConfigureQueue(
        routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name="billing"))
    )
    await publish(routing, "payments", 600)
    await publish(routing, "quick-payments", 8)
    gateway = platform.stub(GatewayServiceStub, role="integration")
    paying = await waiting_contact(platform, gateway, "pay-sms", "+447700900011")
    silent = await waiting_contact(platform, gateway, "quick-pay-sms", "+447700900012")
    assert bot_texts(await contact_events(platform.nc, paying)) == []

    # The routing instance that ran both first steps goes; a new one takes over.
    await platform.restart("routing")

    await crm(platform).SendFlowEvent(
        integration_pb2.SendFlowEventRequest(
            header=header("pay-ev-1"),
            contact_id=paying,
            event_name="payment_confirmed",
            data={"status": "ok"},
        )
    )

    async def thanked() -> list[Any] | None:
        events = await contact_events(platform.nc, paying)
        return events if bot_texts(events) and of_kind(events, "contact_queued") else None

    events = await eventually(thanked, seconds=30.0)
    assert bot_texts(events) == ["Payment received, thank you!"]
    [sent] = of_kind(events, "message_sent")
    assert sent.message_sent.channel == SMS
    assert {e.contact_queued.queue for e in of_kind(events, "contact_queued")} == {"billing"}
    [continued] = of_kind(events, "journey_continued")
    assert (continued.journey_continued.cause, continued.journey_continued.node) == (
        "flow_event",
        "await-payment",
    )

    async def told_unpaid() -> list[Any] | None:
        events = await contact_events(platform.nc, silent)
        return events if bot_texts(events) else None

    events = await eventually(told_unpaid, seconds=40.0)
    assert bot_texts(events) == ["We did not get your payment."]
    assert [e.journey_continued.cause for e in of_kind(events, "journey_continued")] == ["timeout"]
    assert of_kind(events, "contact_queued") == []
    journey = await routing.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=silent))
    assert (journey.journey.status, journey.journey.outcome) == ("ended", "unpaid")
