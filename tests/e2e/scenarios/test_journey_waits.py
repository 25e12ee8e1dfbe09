"""A journey waiting for a payment system outlives a routing restart, under `make run`.

An admin publishes a payments journey (`ccctl flow publish`) and a web chat endpoint that starts
it (`ccctl apply -f`). Web chat customers are told their payment is being checked; their journeys
wait at an integration node longer than any call. Routing is restarted (a rollout: the new
process ran none of their steps). The payment system's flow event (the integration API, as a CRM
calls it) continues one journey on the new process: the customer reads the thank-you on the chat
socket and the agent of the queue is offered the contact. The other customer's wait runs out on
the new process: they read that no payment came, and the journey ends on its failure branch.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from ccctl.main import main as ccctl
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion, WsClient

pytestmark = pytest.mark.timeout(300)

BOT = {"from": "bot"}
PROMPTS = {
    "checking": "We are checking your payment.",
    "thanks": "Payment received, thank you! An agent will be with you.",
    "payment-missing": "We did not get your payment.",
}
CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: FLOW}
spec:
  queues: [eu-support]
  prompts: [checking, thanks, payment-missing]
  integrations: [payment-confirmed]
  flows: [FLOW]
"""
FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: FLOW}
spec:
  start: checking
  nodes:
    - {id: checking, kind: message, prompt: checking, next: await-payment}
    - {id: await-payment, kind: integration, integration: payment-confirmed, timeoutSeconds: WAIT,
       store: payment, next: thank, onFailure: unpaid}
    - {id: thank, kind: message, prompt: thanks, next: to-queue}
    - {id: to-queue, kind: queue, queue: eu-support}
    - {id: unpaid, kind: message, prompt: payment-missing, next: stop}
    - {id: stop, kind: end, outcome: unpaid}
"""
#: Flow -> how long it waits for the payment system (longer than the gateway's 10 s call).
WAITS = {"payments": 600, "quick-payments": 25}


def publish_and_apply(e2e_region: RunningRegion, folder: Path) -> None:
    """As an admin: each payments flow published live, and a web chat endpoint starting it."""
    documents = list(yaml.safe_load_all((EXAMPLES / "channels" / "eu.yaml").read_text()))
    template = next(d for d in documents if d["metadata"]["name"] == "acme-webchat-journey")
    for flow, wait in WAITS.items():
        source = folder / flow
        source.mkdir()
        (source / "catalog.yaml").write_text(CATALOG.replace("FLOW", flow))
        (source / f"{flow}.yaml").write_text(FLOW.replace("FLOW", flow).replace("WAIT", str(wait)))
        publish = ["flow", "publish", str(source), "--flow", flow, "--tenant", "acme", "--alias", "live"]
        assert ccctl([*publish, "--nats-url", e2e_region.nats_url, "--mesh-region", e2e_region.region]) == 0
        endpoint = {**template, "metadata": {"name": f"acme-webchat-{flow}"}}
        endpoint["spec"] = {
            **template["spec"],
            "address": f"acme-web-{flow}",
            "flow": flow,
            "prompts": PROMPTS,
        }
        path = folder / f"{flow}-endpoint.yaml"
        path.write_text(yaml.safe_dump(endpoint, sort_keys=False))
        assert ccctl(["apply", "-f", str(path), "--nats-url", e2e_region.nats_url]) == 0


async def waiting_customer(
    e2e_region: RunningRegion, http: object, flow: str, visitor: str
) -> tuple[WsClient, str]:
    """A web chat customer whose journey now waits for the payment system."""
    customer = await e2e_region.chat(http, endpoint=f"acme-webchat-{flow}", visitor=visitor)  # type: ignore[arg-type]
    await customer.send(type="message", id="m1", text="I have just paid my invoice by card")
    checking = await customer.expect("message", seconds=30, **BOT)
    assert checking["text"] == PROMPTS["checking"]
    return customer, str(checking["contactId"])


async def test_waiting_journeys_outlive_a_routing_restart_and_their_prompts_reach_the_customers(
    e2e_region: RunningRegion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", e2e_region.secret)
    await asyncio.to_thread(publish_and_apply, e2e_region, tmp_path)
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        payer, paying = await waiting_customer(e2e_region, http, "payments", "payer-1")
        silent, unpaid = await waiting_customer(e2e_region, http, "quick-payments", "payer-2")

        await e2e_region.restart("routing")

        async with e2e_region.connect() as nc:
            crm = e2e_region.stub(nc, IntegrationServiceStub, e2e_region.token("integration"))
            await crm.SendFlowEvent(
                integration_pb2.SendFlowEventRequest(
                    header=integration_pb2.ActionHeader(tenant_id="acme", idempotency_key="paid-1"),
                    contact_id=paying,
                    event_name="payment_confirmed",
                    data={"status": "ok"},
                )
            )
            thanks = await payer.expect("message", seconds=60, **BOT)
            assert thanks["text"] == PROMPTS["thanks"]
            offer = await alice.expect("offer", seconds=60, contactId=paying)
            assert (offer["queue"], offer["channel"]) == ("eu-support", "webchat")

            missing = await silent.expect("message", seconds=90, **BOT)
            assert missing["text"] == PROMPTS["payment-missing"]
            routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
            journey = (
                await routing.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=unpaid))
            ).journey
    assert (journey.status, journey.outcome, list(journey.path)[-2:]) == (
        "ended",
        "unpaid",
        ["unpaid", "stop"],
    )
    continued = [
        e.journey_continued.cause
        for e in await e2e_region.contact_events(unpaid)
        if e.WhichOneof("payload") == "journey_continued"
    ]
    assert continued == ["timeout"]
