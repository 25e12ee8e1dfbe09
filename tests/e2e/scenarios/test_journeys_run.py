"""The example journey runs under `make run`: a web chat customer of the journey endpoint
(`acme-webchat-journey`, flow `support` published by `ccctl up`) is welcomed, its AI steps ask
the AI service, the menu and the self-service offer are answered on the chat socket, the CRM
steps take their error branch when no system answers, and the journey ends in its queue with the
language it learned: the agent of that queue is offered the contact."""

from __future__ import annotations

from google.protobuf import json_format

from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import RunningRegion

BOT = {"from": "bot"}


async def test_the_support_journey_runs_from_the_first_message_to_an_agent(e2e_region: RunningRegion) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        customer = await e2e_region.chat(http, endpoint="acme-webchat-journey", visitor="journey-1")
        await customer.send(
            type="message", id="m1", text="Hello, I have a question about my last order please"
        )
        welcome = await customer.expect("message", seconds=30, **BOT)
        assert welcome["text"] == "Welcome to ACME. Let me look at your request."
        # The example tenant's intent model (trained by `ccctl up`) reads an order question, which
        # the flow routes straight to the account lookup: no menu. crm-account and crm-cases have
        # no system behind them here: 2 s each, then on.
        contact_id = welcome["contactId"]
        offer_text = await customer.expect("message", seconds=30, **BOT)
        assert offer_text["text"].startswith("Would you like to try our help article first?")
        await customer.send(type="message", id="m3", text="no")

        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        assert (offer["queue"], offer["channel"]) == ("eu-support", "webchat")

    async with e2e_region.connect() as nc:
        routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
        journey = (
            await routing.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact_id))
        ).journey
    assert (journey.status, journey.outcome_kind, journey.hand_off.queue) == ("ended", "queue", "eu-support")
    path = list(journey.path)
    for node in (
        "welcome",
        "detect-intent",
        "score-sentiment",
        "route-intent",
        "fetch-account",
        "fetch-cases",
    ):
        assert node in path
    assert "menu" not in path
    assert path[-3:] == ["before-queue", "set-priority", "to-queue"]
    assert journey.language == "en"
    assert journey.intent == "order_status"
    assert "choice" not in json_format.MessageToDict(journey.attributes)
    queued = [
        e
        for e in await e2e_region.contact_events(contact_id)
        if e.WhichOneof("payload") == "contact_queued" and e.source == "routing"
    ]
    assert [(e.contact_queued.queue, e.contact_queued.language) for e in queued] == [("eu-support", "en")]
    assert queued[0].contact_queued.intent  # what the AI service said it was about
