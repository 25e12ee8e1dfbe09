"""Replies to customers go out through their channel's provider, with the real gateway consumer and
local servers speaking Twilio's, the WhatsApp Graph API's, a generic partner's and SMTP's formats:
the right request shape and authentication; a provider that is down is retried until it is up
and gets the message once; a permanent failure or exhausted retries are reported as failed,
never dropped; a journey's call back becomes a Twilio call whose answer continues the contact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from _gateway_conversation import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    REGION,
    apply_endpoints,
    endpoint,
    events_of_kind,
    publish_flows,
    start_gateway,
)
from _platform import Platform, eventually
from _providers import ProviderServer, SmtpSink
from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.events import EventPublisher
from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from gateway.domain.twilio_signature import twilio_signature

pytestmark = pytest.mark.timeout(120)

SMS = common_pb2.CHANNEL_KIND_SMS
WHATSAPP = common_pb2.CHANNEL_KIND_WHATSAPP
EMAIL = common_pb2.CHANNEL_KIND_EMAIL
WEBCHAT = common_pb2.CHANNEL_KIND_WEBCHAT
API = common_pb2.CHANNEL_KIND_API
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
GRAPH_TOKEN = "graph-access-token-test"
SIGNING_SECRET = "partner-signing-secret-0123"


@pytest.fixture
async def providers() -> AsyncIterator[tuple[ProviderServer, SmtpSink]]:
    server = ProviderServer(ACCOUNT_SID, AUTH_TOKEN, GRAPH_TOKEN, SIGNING_SECRET)
    await server.start()
    sink = SmtpSink()
    await sink.start()
    try:
        yield server, sink
    finally:
        await sink.stop()
        await server.stop()


@pytest.fixture
async def running(platform: Platform, providers: tuple[ProviderServer, SmtpSink]) -> dict[str, Any]:
    server, sink = providers
    api = {"providerApiUrl": server.base_url}
    http_port = free_port()
    await apply_endpoints(
        platform.nc,
        endpoint("out-sms", "sms", "+442071830101", queue="support", **api),
        endpoint(
            "out-whatsapp",
            "whatsapp",
            "106540352200101",
            queue="support",
            whatsapp={
                "phoneNumberId": "106540352200101",
                "appSecret": "test-app-secret",
                "verifyToken": "test-verify-token",
                "accessToken": GRAPH_TOKEN,
            },
            **api,
        ),
        endpoint(
            "out-partner",
            "api",
            "partner-sms",
            queue="support",
            generic={"signingSecret": SIGNING_SECRET, "callbackUrl": server.callback_url},
        ),
        endpoint(
            "out-email",
            "email",
            "help@acme.example",
            queue="support",
            smtp={"host": "127.0.0.1", "port": sink.port, "starttls": False},
        ),
        endpoint("out-webchat", "webchat", "acme-web-test", queue="support"),
        endpoint(
            "callback-sms",
            "sms",
            "+442071830103",
            flow="callback",
            prompts={"connecting": "Connecting you"},
            **api,
        ),
        endpoint("callback-voice", "voice", "+442071830104", queue="general-support", **api),
        endpoint("callback-webchat", "webchat", "acme-web-callback", flow="callback"),
    )
    await platform.start("identity", "routing")
    await publish_flows(platform.stub(RoutingServiceStub, role="admin"))
    await start_gateway(
        platform,
        http_port=http_port,
        public_base_url=f"http://127.0.0.1:{http_port}",
        outbound_max_attempts=3,
        outbound_retry_seconds=0.2,
    )
    return {
        "gateway": platform.stub(GatewayServiceStub, role="integration"),
        "events": EventPublisher(platform.nc.jetstream(), REGION),
        "server": server,
        "sink": sink,
        "http": f"http://127.0.0.1:{http_port}",
    }


async def open_contact(
    gateway: Any, entry_point: str, channel: int, kind: int, value: str, provider_id: str, **extra: Any
) -> str:
    reply = await gateway.SubmitInboundMessage(
        gateway_pb2.SubmitInboundMessageRequest(
            tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
            channel=channel,  # type: ignore[arg-type]
            entry_point=entry_point,
            text="hello",
            provider_message_id=provider_id,
            **{"from": common_pb2.Identifier(kind=kind, value=value)},  # type: ignore[arg-type]
            **extra,
        )
    )
    return str(reply.contact_id)


async def agent_reply(
    events: EventPublisher, contact_id: str, message_id: str, channel: int, text: str, *, age_seconds: int = 0
) -> None:
    """What the agent workspace publishes when an agent answers."""
    stamp = Timestamp()
    stamp.GetCurrentTime()
    stamp.seconds -= age_seconds
    await events.publish(
        events_pb2.Event(
            event_id=message_id,
            occurred_at=stamp,
            tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
            region=REGION,
            contact_id=contact_id,
            source="gateway",
            schema_version=1,
            message_sent=events_pb2.MessageSent(
                message_id=message_id,
                channel=channel,  # type: ignore[arg-type]
                text=text,
                sender="agent:a1",
            ),
        )
    )


def request_id_of(server: ProviderServer, route: str) -> str:
    """The id the provider gave the one message it took on `route`."""
    (request,) = server.requests(route)
    return request.sid


async def status_of(
    platform: Platform,
    contact_id: str,
    count: int = 1,
) -> list[events_pb2.MessageStatusChanged]:
    found = await events_of_kind(platform.nc, contact_id, "message_status_changed", count)
    return [e.message_status_changed for e in found]


async def test_an_agent_reply_goes_out_through_each_providers_api_with_its_authentication(
    platform: Platform,
    running: dict[str, Any],
) -> None:
    gateway, events, server, sink = running["gateway"], running["events"], running["server"], running["sink"]

    sms = await open_contact(gateway, "out-sms", SMS, PHONE, "+447700900101", "SM-o1")
    await agent_reply(events, sms, "reply-sms-1", SMS, "Your parcel ships today")
    (status,) = await status_of(platform, sms)
    assert (status.status, status.provider, status.attempts, status.message_id) == (
        "sent",
        "twilio",
        1,
        "reply-sms-1",
    )
    assert status.provider_message_id.startswith("SM")
    (request,) = server.requests("messages")
    assert request.authorized
    assert request.form == {"To": "+447700900101", "From": "+442071830101", "Body": "Your parcel ships today"}

    whatsapp = await open_contact(
        gateway, "out-whatsapp", WHATSAPP, common_pb2.IDENTIFIER_KIND_WHATSAPP_ID, "447700900102", "wamid.o2"
    )
    await agent_reply(events, whatsapp, "reply-wa-1", WHATSAPP, "Hi on WhatsApp")
    (status,) = await status_of(platform, whatsapp)
    assert (status.status, status.provider) == ("sent", "whatsapp_cloud")
    assert status.provider_message_id == request_id_of(server, "whatsapp")
    (request,) = server.requests("whatsapp")
    assert request.authorized
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "447700900102",
        "type": "text",
        "text": {"preview_url": False, "body": "Hi on WhatsApp"},
    }

    partner = await open_contact(gateway, "out-partner", API, PHONE, "+447700900103", "P-o3")
    await agent_reply(events, partner, "reply-api-1", API, "Hi via partner")
    (status,) = await status_of(platform, partner)
    assert (status.status, status.provider, status.provider_message_id) == (
        "sent",
        "generic",
        request_id_of(server, "callback"),
    )
    (request,) = server.requests("callback")
    assert request.authorized  # HMAC over "<timestamp>.<body>" with the endpoint's secret
    assert request.headers["Idempotency-Key"] == "reply-api-1"
    assert request.json == {
        "messageId": "reply-api-1",
        "tenant": "acme",
        "contactId": partner,
        "to": "+447700900103",
        "text": "Hi via partner",
        "sender": "agent:a1",
    }

    email = await open_contact(
        gateway,
        "out-email",
        EMAIL,
        common_pb2.IDENTIFIER_KIND_EMAIL,
        "jane@example.com",
        "<first@example.com>",
    )
    await agent_reply(events, email, "reply-mail-1", EMAIL, "Thanks for your mail")
    (status,) = await status_of(platform, email)
    assert (status.status, status.provider) == ("sent", "smtp")
    ((recipients, mail),) = sink.mails
    assert recipients == ["jane@example.com"]
    assert (mail["From"], mail["To"]) == ("help@acme.example", "jane@example.com")
    assert mail["Message-ID"] == status.provider_message_id
    assert mail.get_content().strip() == "Thanks for your mail"

    webchat = await open_contact(
        gateway, "out-webchat", WEBCHAT, common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID, "visitor-1", "wc-o5"
    )
    await agent_reply(events, webchat, "reply-wc-1", WEBCHAT, "Hello in the widget")
    (status,) = await status_of(platform, webchat)
    # The widget's socket shows the message from the event itself: no provider call to make.
    assert (status.status, status.provider) == ("sent", "webchat")
    assert len(server.seen) == 3


async def test_a_provider_that_is_down_then_up_gets_the_message_once(
    platform: Platform,
    running: dict[str, Any],
) -> None:
    gateway, events, server = running["gateway"], running["events"], running["server"]
    server.script("messages", (429, {"Retry-After": "1"}), (503, {}))
    contact = await open_contact(gateway, "out-sms", SMS, PHONE, "+447700900111", "SM-d1")
    await agent_reply(events, contact, "reply-retry-1", SMS, "After the outage")
    (status,) = await status_of(platform, contact)
    assert (status.status, status.attempts) == ("sent", 3)
    assert [r.status for r in server.requests("messages")] == [429, 503, 201]
    # Nothing more arrives later: the consumer acked, the delivery record says sent. The ack
    # leaves after the record is written (and a redelivery met during the retries is acked as
    # already sent), so it is awaited, not read at the instant the status shows.
    js = platform.nc.jetstream()

    async def settled() -> Any:
        info = await js.consumer_info(f"events-{REGION}", "gateway-outbound")
        return info if info.num_ack_pending == 0 and info.num_pending == 0 else None

    info = await eventually(settled)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert len(server.requests("messages")) == 3


async def test_a_permanent_failure_and_exhausted_retries_are_reported_failed(
    platform: Platform,
    running: dict[str, Any],
) -> None:
    gateway, events, server = running["gateway"], running["events"], running["server"]
    server.script("messages", (400, {}))
    contact = await open_contact(gateway, "out-sms", SMS, PHONE, "+447700900121", "SM-f1")
    await agent_reply(events, contact, "reply-bad-number", SMS, "Never arrives")
    (status,) = await status_of(platform, contact)
    assert (status.status, status.attempts, status.provider) == ("failed", 1, "twilio")
    assert "HTTP 400" in status.reason and "21211" in status.reason
    assert AUTH_TOKEN not in status.reason
    assert len(server.requests("messages")) == 1  # a permanent failure is not retried

    server.script("whatsapp", (503, {}), (503, {}), (503, {}))
    whatsapp = await open_contact(
        gateway, "out-whatsapp", WHATSAPP, common_pb2.IDENTIFIER_KIND_WHATSAPP_ID, "447700900122", "wamid.f2"
    )
    await agent_reply(events, whatsapp, "reply-down", WHATSAPP, "Provider stays down")
    (status,) = await status_of(platform, whatsapp)
    assert (status.status, status.attempts) == ("failed", 3)
    assert "HTTP 503" in status.reason
    assert [r.status for r in server.requests("whatsapp")] == [503, 503, 503]

    # A reply from hours ago (a new consumer on an old stream) is reported, not sent late.
    await agent_reply(events, contact, "reply-stale", SMS, "Hours late", age_seconds=2 * 3600)
    statuses = await status_of(platform, contact, 2)
    assert (statuses[1].message_id, statuses[1].status) == ("reply-stale", "failed")
    assert "not delivered" in statuses[1].reason
    assert len(server.requests("messages")) == 1


async def test_a_journeys_call_back_is_placed_through_twilio_and_the_answered_call_continues_the_contact(
    platform: Platform,
    running: dict[str, Any],
) -> None:
    gateway, server = running["gateway"], running["server"]
    contact = await open_contact(gateway, "callback-sms", SMS, PHONE, "+447700900131", "SM-cb1")
    status = await _call_status(platform, contact)
    assert (status.status, status.provider, status.channel) == (
        "sent",
        "twilio",
        common_pb2.CHANNEL_KIND_VOICE,
    )
    (call,) = server.requests("calls")
    assert call.authorized
    assert (call.form["To"], call.form["From"]) == ("+447700900131", "+442071830104")
    answer_url = call.form["Url"]
    assert answer_url == f"{running['http']}/v1/twilio/callback-voice/voice?contact={contact}"
    assert parse_qs(urlsplit(answer_url).query)["contact"] == [contact]

    # Twilio calls the answer URL when the customer picks up (signed as Twilio signs it).
    params = {
        "CallSid": "CA" + "7" * 32,
        "From": "+447700900131",
        "To": "+442071830104",
        "CallStatus": "in-progress",
    }
    headers = {"X-Twilio-Signature": twilio_signature(answer_url, params.items(), AUTH_TOKEN)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(answer_url, data=params, headers=headers) as reply,
    ):
        twiml = await reply.text()
        assert reply.status == 200, twiml
    assert "Connecting you" in twiml
    routing = platform.stub(RoutingServiceStub, role="admin")
    journey = await routing.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact))
    assert journey.journey.channel == "voice"
    assert "connecting" in list(journey.journey.path)


async def _call_status(platform: Platform, contact_id: str) -> events_pb2.MessageStatusChanged:
    async def placed() -> events_pb2.MessageStatusChanged | None:
        found = await events_of_kind(platform.nc, contact_id, "message_status_changed")
        voice = common_pb2.CHANNEL_KIND_VOICE
        calls = [e.message_status_changed for e in found if e.message_status_changed.channel == voice]
        return calls[0] if calls else None

    return await eventually(placed)  # type: ignore[no-any-return]


async def test_a_call_back_without_a_number_to_call_is_reported_failed(
    platform: Platform,
    running: dict[str, Any],
) -> None:
    gateway, server = running["gateway"], running["server"]
    # A web chat visitor the platform has no phone number for.
    contact = await open_contact(
        gateway,
        "callback-webchat",
        WEBCHAT,
        common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
        "visitor-9",
        "wc-cb9",
    )
    status = await _call_status(platform, contact)
    assert (status.status, status.attempts) == ("failed", 0)
    assert "no phone number" in status.reason
    assert server.requests("calls") == []
