"""Every text channel end to end, as its users use it, on the platform `ccctl up` starts.

For SMS, WhatsApp, e-mail, the generic partner API and web chat: the customer's first message
comes in the provider's way (signed Twilio and Meta webhooks, a real SMTP conversation, a
signed partner request, the chat socket); alice gets the offer on the workspace socket with the
contact's real channel, accepts and replies; the reply arrives at the provider sandbox (or on
the customer's chat socket) and is reported delivered; the wrap-up makes a ticket. Capacity is
as the workspace file configures it: alice (`sms: 2, whatsapp: 2`) holds two SMS and two
WhatsApp contacts at once and a fifth waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import aiohttp
import orjson
import pytest

from ccsandbox.client import SandboxClient
from tests.e2e.harness import RunningRegion, WsClient

pytestmark = pytest.mark.timeout(300)


def _unique(prefix: str) -> str:
    return prefix + os.urandom(4).hex()


async def whatsapp(region: RunningRegion, http: aiohttp.ClientSession, wa_id: str, text: str) -> int:
    """A customer's WhatsApp message as Meta posts it, signed with the app secret."""
    spec = region.endpoints["acme-whatsapp"].spec
    assert spec.whatsapp is not None
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "442071838760",
            "phone_number_id": spec.whatsapp.phone_number_id,
        },
        "contacts": [{"profile": {"name": "Jane Doe"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": _unique("wamid."),
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}],
        }
    )
    signature = hmac.new(spec.whatsapp.app_secret.encode(), body, hashlib.sha256).hexdigest()
    async with http.post(
        f"{region.http_base}/v1/whatsapp/acme-whatsapp",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"},
    ) as response:
        return response.status


def send_mail(port: int, sender: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = f"Erin Example <{sender}>"
    message["To"] = "support@acme.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{_unique('m')}@customer.example>"
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.send_message(message)


async def accept(agent: WsClient, channel: str, **matching: Any) -> dict[str, Any]:
    offer = await agent.expect("offer", seconds=45, channel=channel, **matching)
    request = _unique("a-")
    await agent.send(type="accept", id=request, reservationId=offer["reservationId"])
    await agent.expect("accepted", id=request)
    return offer


async def reply_and_wrap_up(region: RunningRegion, agent: WsClient, contact_id: str, text: str) -> None:
    request = _unique("s-")
    await agent.send(type="send", id=request, contactId=contact_id, text=text)
    await agent.expect("sent", id=request)
    delivered = await region.wait_event("message_status_changed", contact_id)
    assert [e.message_status_changed.status for e in delivered] == ["sent"], delivered
    wrap = _unique("w-")
    await agent.send(type="wrap_up", id=wrap, contactId=contact_id, disposition="resolved")
    wrapped = await agent.expect("wrapped_up", seconds=45, id=wrap)
    assert wrapped["ticket"] is not None, wrapped
    tickets = await region.wait_event("ai_ticket", contact_id)
    assert tickets and tickets[0].ai_ticket.summary, tickets


async def test_sms_from_webhook_to_reply_at_the_provider_and_ticket(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    phone = "+447700900201"
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        status, _ = await e2e_region.sms(http, phone, "My parcel has not arrived, can you check?")
        assert status == 200
        offer = await accept(alice, "sms")
        await reply_and_wrap_up(e2e_region, alice, offer["contactId"], "It leaves the depot today.")
        (sent,) = await sandbox.wait_for(lambda m: m["kind"] == "sms" and m["to"] == phone)
        assert sent["text"] == "It leaves the depot today." and sent["accepted"]
        await alice.ws.close()


async def test_whatsapp_from_webhook_to_reply_at_the_graph_api_and_ticket(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    wa_id = "4915" + str(int.from_bytes(os.urandom(3), "big"))
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        assert await whatsapp(e2e_region, http, wa_id, "Hello, I want to return my shoes") == 200
        offer = await accept(alice, "whatsapp")
        await reply_and_wrap_up(e2e_region, alice, offer["contactId"], "Here is your return label.")
        (sent,) = await sandbox.wait_for(lambda m: m["kind"] == "whatsapp" and m["to"].lstrip("+") == wa_id)
        assert sent["text"] == "Here is your return label." and sent["accepted"]
        await alice.ws.close()


async def test_email_from_smtp_to_reply_through_the_relay_and_ticket(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    sender = _unique("erin.") + "@customer.example"
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        await asyncio.to_thread(
            send_mail, e2e_region.plan.gateway_smtp_port, sender, "Invoice", "I was charged twice this month."
        )
        offer = await accept(alice, "email")
        await reply_and_wrap_up(e2e_region, alice, offer["contactId"], "The second charge is refunded.")
        (sent,) = await sandbox.wait_for(lambda m: m["kind"] == "email" and sender in m["to"])
        assert "The second charge is refunded." in sent["text"] and sent["accepted"]
        await alice.ws.close()


async def test_partner_api_from_signed_request_to_signed_callback_and_ticket(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    customer = _unique("partner-user-")
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        status, body = await e2e_region.generic(
            http,
            "acme-partner",
            {
                "from": {"kind": "crm_external_id", "value": customer},
                "text": "Please change my delivery address",
                "providerMessageId": _unique("p-"),
            },
        )
        assert status in (200, 201, 202), body
        offer = await accept(alice, "api")
        await reply_and_wrap_up(e2e_region, alice, offer["contactId"], "Your address is changed.")
        (sent,) = await sandbox.wait_for(
            lambda m: m["kind"] == "generic" and m["text"] == "Your address is changed."
        )
        assert sent["accepted"] and sent["meta"].get("X-CC-Signature", "").startswith("sha256=")
        await alice.ws.close()


async def test_web_chat_from_socket_to_reply_on_the_socket_and_ticket(e2e_region: RunningRegion) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        customer = await e2e_region.chat(http, visitor=_unique("visitor-"))
        await customer.send(type="message", id="c1", text="Do you ship to Ireland?")
        offer = await accept(alice, "webchat")
        contact_id = offer["contactId"]
        request = _unique("s-")
        await alice.send(type="send", id=request, contactId=contact_id, text="Yes, within three days.")
        await alice.expect("sent", id=request)
        await customer.expect("message", seconds=20, text="Yes, within three days.")
        wrap = _unique("w-")
        await alice.send(type="wrap_up", id=wrap, contactId=contact_id, disposition="resolved")
        assert (await alice.expect("wrapped_up", seconds=45, id=wrap))["ticket"] is not None
        await customer.ws.close()
        await alice.ws.close()


async def test_alice_holds_two_sms_and_two_whatsapp_at_once_and_a_fifth_waits(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        held: list[str] = []
        phones = ["+447700900301", "+447700900302", "+447700900303"]
        wa_ids = ["4916" + str(int.from_bytes(os.urandom(3), "big")) for _ in range(2)]
        for phone in phones[:2]:
            assert (await e2e_region.sms(http, phone, "Where is my order?"))[0] == 200
            held.append((await accept(alice, "sms"))["contactId"])
        for wa_id in wa_ids:
            assert await whatsapp(e2e_region, http, wa_id, "Where is my order?") == 200
            held.append((await accept(alice, "whatsapp"))["contactId"])
        assert len(set(held)) == 4

        # A third SMS waits: alice's SMS capacity is full although WhatsApp took its own two.
        assert (await e2e_region.sms(http, phones[2], "Any news on my order?"))[0] == 200
        with pytest.raises(TimeoutError):
            await alice.expect("offer", seconds=3, channel="sms")

        # One SMS contact wrapped up frees one SMS slot: the waiting customer is offered.
        wrap = _unique("w-")
        await alice.send(type="wrap_up", id=wrap, contactId=held[0], disposition="resolved")
        await alice.expect("wrapped_up", seconds=45, id=wrap)
        held[0] = (await accept(alice, "sms"))["contactId"]
        for contact_id in held:
            wrap = _unique("w-")
            await alice.send(type="wrap_up", id=wrap, contactId=contact_id, disposition="resolved")
            await alice.expect("wrapped_up", seconds=45, id=wrap)
        await alice.ws.close()
