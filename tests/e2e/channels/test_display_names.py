"""The agent calls the customer by name: WhatsApp's profile name, the e-mail's From name, or
a masked address when the channel gives no name (SMS), never an internal customer id.

Each customer writes through the provider's real way in (a signed WhatsApp webhook, SMTP to the
gateway's listener, a signed Twilio SMS webhook); the offer the agent gets names them, and so
does the conversation after accepting.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from email.message import EmailMessage

import aiohttp
import orjson
import pytest

from gateway.domain.whatsapp_signature import whatsapp_signature
from tests.e2e.harness import RunningRegion, WsClient

pytestmark = pytest.mark.timeout(240)


async def whatsapp(
    region: RunningRegion, http: aiohttp.ClientSession, wa_id: str, name: str, text: str
) -> int:
    spec = region.endpoints["acme-whatsapp"].spec
    assert spec.whatsapp is not None
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": spec.whatsapp.phone_number_id},
                                "contacts": [{"wa_id": wa_id, "profile": {"name": name}}],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": f"wamid.{wa_id}.{time.time_ns()}",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    )
    async with http.post(
        f"{region.http_base}/v1/whatsapp/acme-whatsapp",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp_signature(spec.whatsapp.app_secret, body),
        },
    ) as response:
        return response.status


def send_mail(port: int, sender: str, text: str) -> None:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@acme.example"
    mail["Subject"] = "My order"
    mail.set_content(text)
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.send_message(mail)


async def offered_and_accepted(
    agent: WsClient, first_message: str
) -> tuple[dict[str, object], dict[str, object]]:
    """The offer of the contact whose first message is `first_message`, and its conversation."""
    while True:
        offer = await agent.expect("offer", seconds=60)
        if offer["customer"]["firstMessage"] == first_message:
            break
    await agent.send(type="accept", id=f"a-{offer['reservationId']}", reservationId=offer["reservationId"])
    conversation = await agent.expect("conversation", seconds=30, contactId=offer["contactId"])
    return offer, conversation


async def test_offers_and_conversations_name_the_customer(e2e_region: RunningRegion) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")

        assert (
            await whatsapp(e2e_region, http, "447700900222", "María López", "hello, where is my parcel?")
            == 200
        )
        offer, conversation = await offered_and_accepted(alice, "hello, where is my parcel?")
        assert offer["customer"]["displayName"] == "María López"  # type: ignore[index]
        assert conversation["displayName"] == "María López" and conversation["queue"] == "support"

        port = e2e_region.plan.gateway_smtp_port
        await asyncio.to_thread(send_mail, port, "Jane Doe <jane.doe@example.org>", "Where is order 77?")
        offer, conversation = await offered_and_accepted(alice, "Where is order 77?")
        assert offer["customer"]["displayName"] == "Jane Doe"  # type: ignore[index]
        assert conversation["displayName"] == "Jane Doe"

        status, _ = await e2e_region.sms(http, "+447700900444", "text from a number")
        assert status == 200
        offer, _ = await offered_and_accepted(alice, "text from a number")
        shown = offer["customer"]["displayName"]  # type: ignore[index]
        # Masked: country code and last digits, never the whole number or the customer id.
        assert shown.startswith("+44 ") and shown.endswith("0444") and "7700900" not in shown, shown
        assert offer["customer"]["customerId"] not in shown  # type: ignore[index]
