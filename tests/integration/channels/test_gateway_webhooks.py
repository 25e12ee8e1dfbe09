"""Provider webhooks over real HTTP into a real gateway, identity and nats-server.

Twilio SMS, WhatsApp Cloud API and the generic signed API: signed requests are accepted and
become a contact's events on the region's stream, exactly once per provider message id; a
missing or wrong signature is 401 and nothing is published.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
import pytest
from _gateway_http import (
    AUTH_TOKEN,
    ENDPOINTS,
    VERIFY_TOKEN,
    HttpGateway,
    apply_endpoints,
    http_gateway,
    stream_events,
    whatsapp_payload,
)
from _platform import Platform, eventually

from ccmesh.events import EventPublisher
from ccsandbox import Sandbox, SandboxSettings
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(90)

SMS = {
    "MessageSid": "SM0001",
    "AccountSid": "AC" + "0123456789abcdef" * 2,
    "From": "+447700900123",
    "To": "+442071838750",
    "Body": "Where is my parcel?",
    "NumMedia": "1",
    "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "MediaContentType0": "image/jpeg",
}


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[HttpGateway]:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform) as running:
        yield running


async def test_a_signed_sms_becomes_a_contact_once_and_is_answered_with_empty_twiml(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    async with await gateway.twilio("/v1/twilio/t-sms/sms", SMS) as response:
        assert response.status == 200
        assert response.content_type == "text/xml"
        first = await response.text()
    assert first == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    events = await stream_events(platform)
    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[:2] == ["contact_created", "message_received"]
    created, received = events[0], events[1]
    assert getattr(created.contact_created, "from").value == "+447700900123"
    assert created.contact_created.entry_point == "t-sms"
    assert received.message_received.channel == common_pb2.CHANNEL_KIND_SMS
    assert received.message_received.provider_message_id == "SM0001"
    assert received.message_received.text == f"Where is my parcel?\n[media image/jpeg {SMS['MediaUrl0']}]"
    stored = await platform.event_count()

    # Twilio retries the same MessageSid: the same answer, nothing new on the stream.
    async with await gateway.twilio("/v1/twilio/t-sms/sms", SMS) as response:
        assert (response.status, await response.text()) == (200, first)
    assert await platform.event_count() == stored


@pytest.mark.parametrize(
    ("signature", "tamper", "problem"),
    [
        (None, False, "X-Twilio-Signature: missing"),
        ("valid-for-another-token", False, "does not match"),
        ("valid", True, "does not match"),
        ("0/KCTR6DLpKmkAf8muzZqo1nDgQ=", False, "does not match"),
    ],
)
async def test_an_sms_without_a_valid_signature_gets_401_and_creates_nothing(
    platform: Platform,
    gateway: HttpGateway,
    signature: str | None,
    tamper: bool,
    problem: str,
) -> None:
    params = dict(SMS)
    if signature == "valid-for-another-token":
        from gateway.domain.twilio_signature import twilio_signature

        signature = twilio_signature(
            gateway.url("/v1/twilio/t-sms/sms"), params.items(), "another-token-123456"
        )
    if tamper:
        from gateway.domain.twilio_signature import twilio_signature

        signature = twilio_signature(gateway.url("/v1/twilio/t-sms/sms"), params.items(), AUTH_TOKEN)
        params["Body"] = "Send the refund to account 123"
    async with await gateway.twilio("/v1/twilio/t-sms/sms", params, signature=signature) as response:
        assert response.status == 401
        error = (await response.json())["error"]
    assert error["code"] == "UNAUTHENTICATED"
    assert problem in error["message"]
    assert AUTH_TOKEN not in error["message"]
    assert await platform.event_count() == 0


async def test_the_twilio_signature_covers_the_public_url(platform: Platform) -> None:
    await apply_endpoints(platform, *ENDPOINTS)
    await platform.start("identity")
    async with http_gateway(platform, public_base_url="https://cc.example.test/edge") as gateway:
        # Signed for the URL Twilio was given (behind the proxy): accepted.
        async with await gateway.twilio("/v1/twilio/t-sms/sms", SMS) as response:
            assert response.status == 200
        stored = await platform.event_count()
        # Signed for the gateway's own address, which Twilio never calls: refused.
        local = gateway.url("/v1/twilio/t-sms/sms")
        from gateway.domain.twilio_signature import twilio_signature

        other = dict(SMS, MessageSid="SM0002")
        signature = twilio_signature(local, other.items(), AUTH_TOKEN)
        async with await gateway.twilio("/v1/twilio/t-sms/sms", other, signature=signature) as response:
            assert response.status == 401
        assert await platform.event_count() == stored


async def test_whatsapp_verification_challenge(gateway: HttpGateway) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with gateway.session.get(gateway.url("/v1/whatsapp/t-wa"), params=query) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.text() == "1158201444"
    wrong = dict(query, **{"hub.verify_token": "guess"})
    async with gateway.session.get(gateway.url("/v1/whatsapp/t-wa"), params=wrong) as response:
        assert response.status == 403
        assert "hub.verify_token" in (await response.json())["error"]["message"]
    not_subscribe = dict(query, **{"hub.mode": "unsubscribe"})
    async with gateway.session.get(gateway.url("/v1/whatsapp/t-wa"), params=not_subscribe) as response:
        assert response.status == 400
        assert "hub.mode" in (await response.json())["error"]["message"]


def _text(message_id: str, body: str, sender: str = "447700900123") -> dict[str, object]:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": body},
    }


async def test_a_signed_whatsapp_post_creates_a_contact_and_a_retry_creates_nothing(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    image = {
        "from": "447700900123",
        "id": "wamid.IMG",
        "timestamp": "1700000001",
        "type": "image",
        "image": {"id": "MEDIA-1", "mime_type": "image/jpeg", "sha256": "abc123", "caption": "the box"},
    }
    unknown = {"from": "447700900123", "id": "wamid.ODD", "timestamp": "1700000002", "type": "hologram"}
    body = whatsapp_payload(_text("wamid.TXT", "Hello from WhatsApp"), image, unknown)
    async with await gateway.whatsapp("t-wa", body) as response:
        assert response.status == 200
        answer = await response.json()
    assert [item["duplicate"] for item in answer["accepted"]] == [False, False, False]
    contact_ids = {item["contactId"] for item in answer["accepted"]}
    assert len(contact_ids) == 1
    events = await stream_events(platform)
    received = [e.message_received for e in events if e.WhichOneof("payload") == "message_received"]
    assert [m.text for m in received] == [
        "Hello from WhatsApp",
        "[image id=MEDIA-1 mime_type=image/jpeg sha256=abc123] the box",
        "[unsupported message type hologram]",
    ]
    assert {m.channel for m in received} == {common_pb2.CHANNEL_KIND_WHATSAPP}
    created = next(e.contact_created for e in events if e.WhichOneof("payload") == "contact_created")
    # wa_id is the phone number without '+': the sender is the phone, so identity links channels.
    assert (getattr(created, "from").kind, getattr(created, "from").value) == (
        common_pb2.IDENTIFIER_KIND_PHONE,
        "+447700900123",
    )
    stored = await platform.event_count()

    async with await gateway.whatsapp("t-wa", body) as response:
        assert response.status == 200
        again = await response.json()
    assert [item["duplicate"] for item in again["accepted"]] == [True, True, True]
    assert await platform.event_count() == stored

    # The same person by SMS joins the same contact (one customer across channels).
    async with await gateway.twilio("/v1/twilio/t-sms/sms", dict(SMS, MessageSid="SM-WA")) as response:
        assert response.status == 200
    events = await stream_events(platform)
    assert {e.contact_id for e in events} == contact_ids


@pytest.mark.parametrize("secret", [None, "another-app-secret"])
async def test_a_whatsapp_post_without_a_valid_signature_gets_401_and_creates_nothing(
    platform: Platform,
    gateway: HttpGateway,
    secret: str | None,
) -> None:
    body = whatsapp_payload(_text("wamid.BAD", "hello"))
    async with await gateway.whatsapp("t-wa", body, secret=secret) as response:
        assert response.status == 401
        assert "X-Hub-Signature-256" in (await response.json())["error"]["message"]
    assert await platform.event_count() == 0


async def test_whatsapp_delivery_statuses_of_our_replies_land_on_the_contact(
    platform: Platform,
) -> None:
    """An agent's reply goes out through the Graph API (the provider sandbox); Meta's statuses for
    it become MessageStatusChanged events on the same contact, once each, with the failure's reason."""
    async with Sandbox(SandboxSettings(smtp_port=-1, graph_tokens=frozenset({"graph-token-0123"}))) as graph:
        line = next(e for e in ENDPOINTS if e.metadata.name == "t-wa")
        credentials = line.spec.whatsapp.model_copy(update={"access_token": "graph-token-0123"})  # type: ignore[union-attr]
        spec = line.spec.model_copy(update={"provider_api_url": graph.base_url, "whatsapp": credentials})
        await apply_endpoints(platform, line.model_copy(update={"spec": spec}))
        await platform.start("identity")
        async with http_gateway(platform) as gateway:
            async with await gateway.whatsapp("t-wa", whatsapp_payload(_text("wamid.IN1", "Hi"))) as response:
                contact_id = (await response.json())["accepted"][0]["contactId"]
            # An agent answers (the workspace publishes exactly this); the gateway delivers it.
            await EventPublisher(platform.nc.jetstream(), "eu").publish(
                events_pb2.Event(
                    event_id="reply-1",
                    tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
                    region="eu",
                    contact_id=contact_id,
                    source="gateway",
                    message_sent=events_pb2.MessageSent(
                        message_id="reply-1",
                        channel=common_pb2.CHANNEL_KIND_WHATSAPP,
                        text="Your parcel arrives today",
                        sender="agent:a1",
                    ),
                )
            )

            def statuses(events: list[events_pb2.Event]) -> list[tuple[str, str, str]]:
                return [
                    (
                        e.message_status_changed.message_id,
                        e.message_status_changed.status,
                        e.message_status_changed.reason,
                    )
                    for e in events
                    if e.WhichOneof("payload") == "message_status_changed" and e.contact_id == contact_id
                ]

            async def sent() -> bool:
                return ("reply-1", "sent", "") in statuses(await stream_events(platform))

            await eventually(sent, seconds=20)
            (sent_to_graph,) = [r for r in graph.state.outbox.since(0) if r.kind == "whatsapp" and r.accepted]
            assert sent_to_graph.to.lstrip("+") == "447700900123"
            wamid = sent_to_graph.sid

            delivered = {
                "id": wamid,
                "status": "delivered",
                "timestamp": "1",
                "recipient_id": "447700900123",
            }
            failed = {
                "id": wamid,
                "status": "failed",
                "timestamp": "2",
                "recipient_id": "447700900123",
                "errors": [{"code": 131026, "title": "Message undeliverable"}],
            }
            foreign = {"id": "wamid.NOT-OURS", "status": "read", "timestamp": "3", "recipient_id": "1"}

            async def reported() -> dict[str, object] | None:
                # The receipt is indexed by a consumer: until then Meta's report is not ours yet.
                body = whatsapp_payload(statuses=(delivered, failed, foreign))
                async with await gateway.whatsapp("t-wa", body) as response:
                    assert response.status == 200
                    answer = await response.json()
                return answer if answer["statuses"] == 2 else None

            answer = await eventually(reported)
            assert answer["accepted"] == [] and len(answer["skipped"]) == 1
            stored = await platform.event_count()
            async with await gateway.whatsapp("t-wa", whatsapp_payload(statuses=(delivered,))) as response:
                assert response.status == 200
            assert await platform.event_count() == stored
            assert statuses(await stream_events(platform))[-2:] == [
                ("reply-1", "delivered", ""),
                ("reply-1", "failed", "131026 Message undeliverable"),
            ]


def _generic(provider_id: str, text: str = "hello") -> bytes:
    return orjson.dumps(
        {"from": {"kind": "phone", "value": "+447700900555"}, "text": text, "providerMessageId": provider_id}
    )


async def test_the_generic_api_accepts_signed_messages_once_and_refuses_replays(
    platform: Platform,
    gateway: HttpGateway,
) -> None:
    async with await gateway.generic("t-generic", _generic("P-1")) as response:
        assert response.status == 201
        first = await response.json()
    assert first["contactCreated"] and not first["duplicate"]
    stored = await platform.event_count()
    async with await gateway.generic("t-generic", _generic("P-1")) as response:
        assert response.status == 200
        again = await response.json()
    assert (again["duplicate"], again["contactId"], again["messageId"]) == (
        True,
        first["contactId"],
        first["messageId"],
    )
    assert await platform.event_count() == stored

    stale = int(time.time()) - 301
    async with await gateway.generic("t-generic", _generic("P-2"), timestamp=stale) as response:
        assert response.status == 401
        assert "X-CC-Timestamp" in (await response.json())["error"]["message"]
    async with await gateway.generic("t-generic", _generic("P-3"), secret="not-the-secret-0123") as response:
        assert response.status == 401
        assert "X-CC-Signature" in (await response.json())["error"]["message"]
    assert await platform.event_count() == stored
