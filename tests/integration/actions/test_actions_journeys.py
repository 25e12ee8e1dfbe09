"""Inbound actions on journeys, applied by the routing service from the region's actions stream:
a journey waiting at an integration node continues on SendFlowEvent, contact attributes are
merged into the journey, each action applies once, and a bad one is dead-lettered."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from _platform import Platform, eventually
from google.protobuf import json_format
from nats.js.errors import KeyNotFoundError

from actions._actions import contact_update, crm, dead_letters, header, republish
from contactcenter.integration.v1 import integration_pb2
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)

DURABLE = "routing-actions"

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: payments
spec:
  queues: [billing]
  prompts: [thanks]
  integrations: [payment-confirmed]
  flows: [payments]
"""

FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: payments
spec:
  start: await-payment
  nodes:
    - id: await-payment
      kind: integration
      integration: payment-confirmed
      timeoutSeconds: 600
      store: payment
      next: thank
      onFailure: unpaid
    - id: thank
      kind: message
      prompt: thanks
      next: to-billing
    - id: to-billing
      kind: queue
      queue: billing
    - id: unpaid
      kind: end
      outcome: unpaid
"""


async def waiting_journey(platform: Platform, contact_id: str) -> Any:
    """Publish the payments flow and start a journey that waits at its integration node."""
    routing = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    files = [
        routing_pb2.FlowSourceFile(name="payments/catalog.yaml", content=CATALOG),
        routing_pb2.FlowSourceFile(name="payments/payments.yaml", content=FLOW),
    ]
    published = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="payments", files=files)
    )
    await routing.SetFlowAlias(
        routing_pb2.SetFlowAliasRequest(
            tenant_id="acme", flow="payments", alias="live", version=published.version
        )
    )
    started = await routing.StartJourney(
        routing_pb2.StartJourneyRequest(
            tenant_id="acme", contact_id=contact_id, flow="payments", channel="chat"
        )
    )
    assert (started.journey.waiting_for, started.journey.node) == ("integration", "await-payment")
    return routing


def journey_once(routing: Any, contact_id: str, attribute: str, value: object = None) -> Any:
    """A probe for `eventually`: (journey, attributes) once `attribute` is set (to `value`, if given)."""

    async def probe() -> tuple[Any, dict[str, Any]] | None:
        reply = await routing.GetJourney(
            routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact_id)
        )
        attributes = json_format.MessageToDict(reply.journey.attributes)
        if attribute in attributes and (value is None or attributes[attribute] == value):
            return reply.journey, attributes
        return None

    return probe


def flow_event(key: str, contact_id: str, name: str, **data: str) -> integration_pb2.SendFlowEventRequest:
    return integration_pb2.SendFlowEventRequest(
        header=header(key), contact_id=contact_id, event_name=name, data=data
    )


async def ledger_status(platform: Platform, action_id: str) -> str:
    """What the ledger says of the action once it says anything: routing records it just after
    the action took effect, and the test may see the effect first."""
    kv = await platform.nc.jetstream().key_value("journeys-eu")

    async def stored() -> bytes | None:
        try:
            entry = await kv.get(f"act.acme.{action_id}")
        except KeyNotFoundError:
            return None
        return entry.value or None

    return str(orjson.loads(await eventually(stored))["status"])


async def test_a_waiting_journey_continues_on_send_flow_event_and_takes_contact_attributes(
    platform: Platform,
) -> None:
    await platform.start("routing", "integration")
    routing = await waiting_journey(platform, "pay-1")
    api = crm(platform)

    # An event the journey does not wait for is not applicable: the journey stays where it is.
    wrong = await api.SendFlowEvent(flow_event("ev-0", "pay-1", "refund_issued", amount="3"))
    first = await api.UpdateAttributes(contact_update("at-1", "pay-1", crm_status="open"))
    journey, attributes = await eventually(journey_once(routing, "pay-1", "crm_status"))
    assert (journey.status, journey.node, attributes) == ("waiting", "await-payment", {"crm_status": "open"})
    assert await ledger_status(platform, wrong.result.action_id) == "not_applicable"

    # Applied once: a later change wins over the first action delivered again.
    await api.UpdateAttributes(contact_update("at-2", "pay-1", crm_status="closed"))
    await republish(platform.nc, first.result.action_id, "redelivered-at-1")
    await api.UpdateAttributes(contact_update("at-3", "pay-1", marker="after"))
    _, attributes = await eventually(journey_once(routing, "pay-1", "marker"))
    assert attributes == {"crm_status": "closed", "marker": "after"}

    # The event the journey waits for: its data is the integration reply, the journey runs on.
    paid = await api.SendFlowEvent(
        flow_event("ev-1", "pay-1", "payment_confirmed", status="ok", amount="12.50")
    )
    journey, attributes = await eventually(journey_once(routing, "pay-1", "payment"))
    assert journey.status == "ended" and journey.hand_off.queue == "billing"
    assert attributes["payment"] == {"status": "ok", "amount": "12.50"}
    assert list(journey.path) == ["await-payment", "thank", "to-billing"]
    again = await api.SendFlowEvent(
        flow_event("ev-1", "pay-1", "payment_confirmed", status="ok", amount="12.50")
    )
    assert again.result.replayed and again.result.action_id == paid.result.action_id
    assert await ledger_status(platform, paid.result.action_id) == "applied"
    assert await dead_letters(platform.nc, DURABLE) == []


async def test_bad_journey_action_is_dead_lettered_and_the_next_one_applies(
    platform: Platform,
) -> None:
    await platform.start("routing", "integration")
    routing = await waiting_journey(platform, "pay-2")
    api = crm(platform)
    too_many = {f"k{i}": "v" for i in range(101)}
    bad = await api.UpdateAttributes(contact_update("bad-1", "pay-2", **too_many))
    nobody = await api.UpdateAttributes(contact_update("at-0", "no-journey", crm_status="open"))
    await api.SendFlowEvent(flow_event("ev-2", "pay-2", "await-payment", status="ok"))

    journey, attributes = await eventually(journey_once(routing, "pay-2", "payment"))
    assert journey.status == "ended" and attributes == {"payment": {"status": "ok"}}
    letters = await dead_letters(platform.nc, DURABLE)
    assert len(letters) == 1 and letters[0].headers is not None
    assert "101 entries; the maximum is 100" in letters[0].headers["Cc-Reason"]
    assert await ledger_status(platform, bad.result.action_id) == "failed"
    assert await ledger_status(platform, nobody.result.action_id) == "not_applicable"
