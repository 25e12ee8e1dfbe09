"""Chat to voice over the real HTTP edge: a customer's SMS journey offers a call back, the
gateway places it through Twilio's Calls API (the provider sandbox, speaking Twilio's REST
format), and Twilio's voice webhook for that call continues the SAME contact and journey. A
customer who calls in while their conversation waits for the call back joins it too; one who
answers the call back (the sandbox picks up) waits in the queue and is put through to the agent."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _gateway_http import (
    AUTH_TOKEN,
    TWILIO,
    HttpGateway,
    apply_endpoints,
    channel_endpoint,
    http_gateway,
    stream_events,
)
from _platform import Platform, eventually
from _providers import ProviderServer

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(120)

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: callback
spec:
  queues: [general-support]
  prompts: [callback-offer, connecting]
  flows: [callback]
"""
#: Offers a call back on voice; the journey waits there until the call is answered.
CALLBACK_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: callback
spec:
  start: offer
  nodes:
    - id: offer
      kind: message
      prompt: callback-offer
      next: call-back
    - id: call-back
      kind: callback
      queue: general-support
      channel: voice
      next: connecting
    - id: connecting
      kind: message
      prompt: connecting
      next: to-queue
    - id: to-queue
      kind: queue
      queue: general-support
"""
SMS_NUMBER, VOICE_NUMBER = "+442071838770", "+442071838771"
CUSTOMER, OTHER_CUSTOMER = "+447700900321", "+447700900654"


@pytest.fixture
async def twilio_api() -> AsyncIterator[tuple[ProviderServer, str]]:
    # The test answers the placed calls itself (as the customer picking up).
    provider = ProviderServer(TWILIO["accountSid"], AUTH_TOKEN, "unused-graph-token", "unused-signing-secret")
    await provider.start()
    try:
        yield provider, provider.base_url
    finally:
        await provider.stop()


@pytest.fixture
async def gateway(platform: Platform, twilio_api: tuple[ProviderServer, str]) -> AsyncIterator[HttpGateway]:
    _, api_url = twilio_api
    prompts = {"callback-offer": "We will call you back.", "connecting": "Connecting you to an agent."}
    common: dict[str, Any] = {
        "provider": "twilio",
        "twilio": TWILIO,
        "providerApiUrl": api_url,
        "prompts": prompts,
    }
    await apply_endpoints(
        platform,
        channel_endpoint("cb-sms", channel="sms", address=SMS_NUMBER, flow="callback", **common),
        channel_endpoint(
            "cb-voice", channel="voice", address=VOICE_NUMBER, queue="general-support", **common
        ),
    )
    await platform.start("identity", "routing")
    routing: Any = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await routing.ConfigureQueue(
        routing_pb2.ConfigureQueueRequest(
            tenant_id="acme", queue=routing_pb2.QueueDefinition(name="general-support")
        )
    )
    files = [
        routing_pb2.FlowSourceFile(name="callback/catalog.yaml", content=CATALOG),
        routing_pb2.FlowSourceFile(name="callback/callback.yaml", content=CALLBACK_FLOW),
    ]
    published = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="callback", files=files)
    )
    await routing.SetFlowAlias(
        routing_pb2.SetFlowAliasRequest(
            tenant_id="acme", flow="callback", alias="live", version=published.version
        )
    )
    async with http_gateway(platform) as running:
        yield running


async def sms(gateway: HttpGateway, sid: str, sender: str, body: str) -> None:
    params = {"MessageSid": sid, "From": sender, "To": SMS_NUMBER, "Body": body}
    async with await gateway.twilio("/v1/twilio/cb-sms/sms", params) as response:
        assert response.status == 200, await response.text()


async def voice(gateway: HttpGateway, url: str, params: dict[str, str]) -> ET.Element:
    parts = urlsplit(url)
    async with await gateway.twilio(
        parts.path + (f"?{parts.query}" if parts.query else ""), params
    ) as response:
        assert response.status == 200, await response.text()
        return ET.fromstring(await response.text())


async def contacts_of(platform: Platform, phone: str) -> set[str]:
    events = await stream_events(platform)
    return {
        e.contact_id
        for e in events
        if e.WhichOneof("payload") == "contact_created" and getattr(e.contact_created, "from").value == phone
    }


async def test_a_call_back_placed_through_twilio_continues_the_same_contact_and_journey(
    platform: Platform,
    gateway: HttpGateway,
    twilio_api: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_api
    await sms(gateway, "SM-CB-1", CUSTOMER, "Can you call me?")
    (contact_id,) = await contacts_of(platform, CUSTOMER)

    async def call_placed() -> dict[str, str] | None:
        calls = provider.requests("calls")
        return calls[0].form if calls else None

    call = await eventually(call_placed, seconds=30)
    assert (call["To"], call["From"]) == (CUSTOMER, VOICE_NUMBER)
    assert all(seen.authorized for seen in provider.seen)
    answer_url = call["Url"]
    assert parse_qs(urlsplit(answer_url).query)["contact"] == [contact_id]
    # The bot's offer went out by SMS before the call.
    assert [m.form["Body"] for m in provider.requests("messages")] == ["We will call you back."]

    # The customer answers: Twilio requests the call's Url (From is our number on calls we place).
    twiml = await voice(
        gateway,
        answer_url,
        {"CallSid": "CA-CB-1", "From": VOICE_NUMBER, "To": CUSTOMER, "Direction": "outbound-api"},
    )
    assert [(child.tag, child.text) for child in twiml] == [
        ("Say", "Connecting you to an agent."),
        ("Enqueue", "general-support"),
    ]
    events = [e for e in await stream_events(platform) if e.contact_id == contact_id]
    legs = [e.message_received.channel for e in events if e.WhichOneof("payload") == "message_received"]
    assert legs == [common_pb2.CHANNEL_KIND_SMS, common_pb2.CHANNEL_KIND_VOICE]
    assert await contacts_of(platform, CUSTOMER) == {contact_id}


async def test_a_customer_who_calls_in_while_the_call_back_is_pending_joins_the_same_contact(
    platform: Platform,
    gateway: HttpGateway,
    twilio_api: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_api
    await sms(gateway, "SM-CB-2", OTHER_CUSTOMER, "Please call me")
    (contact_id,) = await contacts_of(platform, OTHER_CUSTOMER)
    await eventually(lambda: asyncio.sleep(0, result=bool(provider.requests("calls"))), seconds=30)

    # They do not wait for us and dial the voice number themselves.
    twiml = await voice(
        gateway,
        gateway.url("/v1/twilio/cb-voice/voice"),
        {"CallSid": "CA-IN-9", "From": OTHER_CUSTOMER, "To": VOICE_NUMBER, "Direction": "inbound"},
    )
    assert [child.tag for child in twiml] == ["Say", "Enqueue"]
    assert await contacts_of(platform, OTHER_CUSTOMER) == {contact_id}


async def test_the_customer_answers_the_call_back_waits_in_the_queue_and_is_put_through_to_the_agent(
    platform: Platform,
    gateway: HttpGateway,
    twilio_api: tuple[ProviderServer, str],
) -> None:
    provider, _ = twilio_api
    caller = provider.sandbox.caller
    caller.answer_placed_calls = True  # the sandbox picks up the call it is asked to place
    customer = "+447700900987"
    await sms(gateway, "SM-CB-3", customer, "Call me please")
    (contact_id,) = await contacts_of(platform, customer)

    async def waiting() -> Any:
        calls = [c for c in caller.calls() if c.caller == customer]
        return calls[0] if calls and calls[0].queue == "general-support" else None

    call = await eventually(waiting, seconds=30)
    assert call.direction == "outbound-api"
    assert next(h["text"] for h in call.heard if h["verb"] == "Say") == "Connecting you to an agent."

    routing: Any = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    js = platform.nc.jetstream()
    offers = await js.subscribe(f"ccevt.eu.acme.contact_offered.{contact_id}", ordered_consumer=True)
    await routing.UpsertAgent(
        routing_pb2.UpsertAgentRequest(
            tenant_id="acme",
            agent=routing_pb2.AgentDefinition(
                agent_id="gina",
                capacity=[routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_VOICE, capacity=1)],
            ),
        )
    )
    await routing.SetAgentState(
        routing_pb2.SetAgentStateRequest(
            tenant_id="acme", agent_id="gina", state=routing_pb2.AGENT_STATE_AVAILABLE
        )
    )
    offer = events_pb2.Event.FromString((await offers.next_msg(timeout=20)).data).contact_offered
    await routing.AnswerOffer(
        routing_pb2.AnswerOfferRequest(
            tenant_id="acme",
            agent_id="gina",
            reservation_id=offer.reservation_id,
            answer=routing_pb2.OFFER_ANSWER_ACCEPT,
        )
    )

    async def put_through() -> bool:
        return call.connected_to == "client:gina"

    await eventually(put_through, seconds=30)
    await caller.hang_up(call.sid)
    assert call.status == "completed"
