"""Chat to voice from the web chat widget, over real sockets and HTTP: the chatting customer asks
for a call back with their number; the chat keeps its place in the queue as a call-back request,
and once an agent takes it the gateway places the call through Twilio's Calls API (a real local
server in Twilio's REST format) and the voice webhook for that call continues the SAME contact.
Because identity now knows the number belongs to the visitor, a call the customer
makes themselves joins the open chat contact too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _gateway_conversation import contact_events
from _gateway_http import AUTH_TOKEN, TWILIO, HttpGateway, apply_endpoints, channel_endpoint, http_gateway
from _platform import Platform, eventually
from _providers import ProviderServer
from _workspace_harness import Client, agent, available, identity_agent

from ccmesh import naming
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(120)

VOICE_NUMBER = "+442071838790"
CUSTOMER = "+447700900777"


@pytest.fixture
async def twilio() -> AsyncIterator[ProviderServer]:
    server = ProviderServer(TWILIO["accountSid"], AUTH_TOKEN, "unused-graph-token", "unused-signing-secret")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def gateway(platform: Platform, twilio: ProviderServer) -> AsyncIterator[HttpGateway]:
    await apply_endpoints(
        platform,
        channel_endpoint("cb-chat", channel="webchat", provider="webchat", address="cb-web", queue="support"),
        channel_endpoint(
            "cb-voice",
            channel="voice",
            provider="twilio",
            address=VOICE_NUMBER,
            queue="support",
            twilio=TWILIO,
            providerApiUrl=twilio.base_url,
        ),
    )
    await platform.start("identity", "routing")
    routing: Any = platform.stub(RoutingServiceStub, role="admin")
    await routing.ConfigureQueue(
        routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name="support"))
    )
    async with http_gateway(platform) as running:
        yield running


async def contact_ids(platform: Platform) -> set[str]:
    """Contacts the gateway opened so far (ContactCreated on the stream)."""
    js = platform.nc.jetstream()
    info = await js.stream_info(
        naming.events_stream("eu").name, subjects_filter="ccevt.eu.acme.contact_created.*"
    )
    return {subject.rsplit(".", 1)[1] for subject in (info.state.subjects or {})}


async def test_a_chat_customers_call_back_continues_the_chat_contact(
    platform: Platform,
    gateway: HttpGateway,
    twilio: ProviderServer,
) -> None:
    chat = Client(await gateway.session.ws_connect(gateway.url("/v1/webchat/cb-chat/ws")))
    await chat.send(type="hello")
    await chat.expect("welcome")
    await chat.send(type="message", id="m1", text="Could someone call me?")
    contact_id = (await chat.expect("ack", id="m1"))["contactId"]
    await chat.send(type="callback_request", id="cb1", phone="+44 7700 900777")
    answer = await chat.expect("ack", id="cb1")
    assert (answer["callback"], answer["contactId"]) == ("queued", contact_id)

    # Its turn: an agent takes the request, and the call is placed.
    identity: Any = platform.stub(IdentityServiceStub, role="admin")
    await identity.UpsertAgent(identity_pb2.UpsertAgentRequest(agent=identity_agent("alice", "Alice")))
    alice = await agent(
        gateway.session, gateway.url(""), platform.authority.mint("acme", "agent", "alice", 300)
    )
    await available(alice)
    offer = await alice.expect("offer", contactId=contact_id)
    assert offer["callback"] == {"number": CUSTOMER}
    await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
    await alice.expect("accepted", id="a1")

    async def placed() -> Any:
        calls = twilio.requests("calls")
        return calls[0] if calls else None

    call = await eventually(placed, seconds=30)
    assert call.authorized and (call.form["To"], call.form["From"]) == (CUSTOMER, VOICE_NUMBER)
    answer_url = urlsplit(call.form["Url"])
    assert parse_qs(answer_url.query)["contact"] == [contact_id]

    # The customer picks up: Twilio requests the call's Url, which continues the chat's contact.
    params = {"CallSid": "CA-WEB-1", "From": VOICE_NUMBER, "To": CUSTOMER, "Direction": "outbound-api"}
    async with await gateway.twilio(f"{answer_url.path}?{answer_url.query}", params) as response:
        assert response.status == 200, await response.text()

    async def legs() -> list[int] | None:
        events = await contact_events(platform.nc, contact_id)
        found = [e.message_received.channel for e in events if e.WhichOneof("payload") == "message_received"]
        return found if len(found) >= 2 else None

    assert await eventually(legs) == [common_pb2.CHANNEL_KIND_WEBCHAT, common_pb2.CHANNEL_KIND_VOICE]
    # Later, the customer dials in themselves: identity knows the number, so it is the same contact.
    params = {"CallSid": "CA-IN-2", "From": CUSTOMER, "To": VOICE_NUMBER, "Direction": "inbound"}
    async with await gateway.twilio("/v1/twilio/cb-voice/voice", params) as response:
        assert response.status == 200, await response.text()
    assert await contact_ids(platform) == {contact_id}
    assert len(await eventually(legs)) == 3
