"""Chat to voice over the real HTTP edge: a customer's SMS journey offers a call back, the
gateway places it through Twilio's Calls API (a real local server speaking Twilio's REST
format), and Twilio's voice webhook for that call continues the SAME contact and journey. A
customer who calls in while their conversation waits for the call back joins it too."""

from __future__ import annotations

import asyncio
import base64
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture
from aiohttp import web

from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
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


@dataclass
class LocalTwilioApi:
    """A real HTTP server speaking Twilio's REST format for Messages.json and Calls.json."""

    messages: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    authorizations: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        self.authorizations.add(request.headers.get("Authorization", ""))
        form = {key: str(value) for key, value in (await request.post()).items()}
        if request.match_info["resource"] == "Calls.json":
            self.calls.append(form)
            return web.json_response({"sid": f"CA-CB-{len(self.calls)}", "status": "queued"}, status=201)
        self.messages.append(form)
        return web.json_response({"sid": f"SM-OUT-{len(self.messages)}", "status": "queued"}, status=201)


@pytest.fixture
async def twilio_api() -> AsyncIterator[tuple[LocalTwilioApi, str]]:
    provider = LocalTwilioApi()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/{resource}", provider.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield provider, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway(platform: Platform, twilio_api: tuple[LocalTwilioApi, str]) -> AsyncIterator[HttpGateway]:  # noqa: F811
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


async def contacts_of(platform: Platform, phone: str) -> set[str]:  # noqa: F811
    events = await stream_events(platform)
    return {
        e.contact_id
        for e in events
        if e.WhichOneof("payload") == "contact_created" and getattr(e.contact_created, "from").value == phone
    }


async def test_a_call_back_placed_through_twilio_continues_the_same_contact_and_journey(
    platform: Platform,  # noqa: F811
    gateway: HttpGateway,
    twilio_api: tuple[LocalTwilioApi, str],
) -> None:
    provider, _ = twilio_api
    await sms(gateway, "SM-CB-1", CUSTOMER, "Can you call me?")
    (contact_id,) = await contacts_of(platform, CUSTOMER)

    async def call_placed() -> dict[str, str] | None:
        return provider.calls[0] if provider.calls else None

    call = await eventually(call_placed, seconds=30)
    assert (call["To"], call["From"]) == (CUSTOMER, VOICE_NUMBER)
    expected_auth = "Basic " + base64.b64encode(f"{TWILIO['accountSid']}:{AUTH_TOKEN}".encode()).decode()
    assert provider.authorizations == {expected_auth}
    answer_url = call["Url"]
    assert parse_qs(urlsplit(answer_url).query)["contact"] == [contact_id]
    # The bot's offer went out by SMS before the call.
    assert [m["Body"] for m in provider.messages] == ["We will call you back."]

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
    platform: Platform,  # noqa: F811
    gateway: HttpGateway,
    twilio_api: tuple[LocalTwilioApi, str],
) -> None:
    provider, _ = twilio_api
    await sms(gateway, "SM-CB-2", OTHER_CUSTOMER, "Please call me")
    (contact_id,) = await contacts_of(platform, OTHER_CUSTOMER)
    await eventually(lambda: asyncio.sleep(0, result=bool(provider.calls)), seconds=30)

    # They do not wait for us and dial the voice number themselves.
    twiml = await voice(
        gateway,
        gateway.url("/v1/twilio/cb-voice/voice"),
        {"CallSid": "CA-IN-9", "From": OTHER_CUSTOMER, "To": VOICE_NUMBER, "Direction": "inbound"},
    )
    assert [child.tag for child in twiml] == ["Say", "Enqueue"]
    assert await contacts_of(platform, OTHER_CUSTOMER) == {contact_id}
