"""The same person on SMS, WhatsApp and e-mail is ONE customer with one history, with the real
identity service behind the gateway.

SMS and WhatsApp meet by themselves: a WhatsApp id is the phone number's digits, and identity
matches it to the phone. An e-mail address cannot be matched to a phone by any rule, so identity
must have learnt that the address is this customer's before the mail arrives; here that happens
the way it does in production, by a resolution with both identifiers (an agent or the CRM
confirming the address during the SMS conversation). Without that step the mail would open a
second customer until someone merges the two (MergeCustomers)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any

import pytest
from _gateway_conversation import apply_endpoints, endpoint, start_gateway
from _platform import Platform, eventually

from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(120)

TENANT = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
PHONE = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+44 7700 900201")
ADDRESS = "jane.doe@example.com"


def submit(entry_point: str, channel: int, kind: int, value: str, text: str, provider_id: str) -> Any:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=TENANT,
        channel=channel,  # type: ignore[arg-type]
        entry_point=entry_point,
        text=text,
        provider_message_id=provider_id,
        **{"from": common_pb2.Identifier(kind=kind, value=value)},  # type: ignore[arg-type]
    )


def send_mail(port: int) -> None:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{ADDRESS}>"
    message["To"] = "support@acme.example"
    message["Subject"] = "My order"
    message["Message-ID"] = "<order-mail-1@example.com>"
    message.set_content("Here is the photo you asked for.")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.send_message(message)


async def test_sms_whatsapp_and_email_from_one_person_are_one_customer_with_one_history(
    platform: Platform,
) -> None:
    smtp_port = free_port()
    await apply_endpoints(
        platform.nc,
        endpoint("one-sms", "sms", "+442071830201", queue="support"),
        endpoint("one-whatsapp", "whatsapp", "106540352200201", queue="support"),
        endpoint("one-email", "email", "support@acme.example", queue="support"),
    )
    await platform.start("identity")
    await start_gateway(platform, smtp_port=smtp_port)
    gateway = platform.stub(GatewayServiceStub, role="integration")
    identity = platform.stub(IdentityServiceStub, role="admin")

    sms = await gateway.SubmitInboundMessage(
        submit(
            "one-sms", common_pb2.CHANNEL_KIND_SMS, PHONE.kind, PHONE.value, "My order is late", "SM-one-1"
        )
    )
    # The agent confirms her e-mail address in the SMS conversation: identity resolves both together
    # and attaches the new address to the customer the phone already names.
    both = await identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(
            tenant=TENANT,
            identifiers=[PHONE, common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=ADDRESS)],
        )
    )
    assert both.customer.customer_id == sms.customer_id and not both.created

    whatsapp = await gateway.SubmitInboundMessage(
        submit(
            "one-whatsapp",
            common_pb2.CHANNEL_KIND_WHATSAPP,
            common_pb2.IDENTIFIER_KIND_WHATSAPP_ID,
            "447700900201",
            "Sending a photo by mail",
            "wamid.one-2",
        )
    )
    assert (whatsapp.customer_id, whatsapp.contact_id) == (sms.customer_id, sms.contact_id)
    await asyncio.to_thread(send_mail, smtp_port)

    async def three_messages() -> list[Any] | None:
        timeline = await identity.GetTimeline(
            identity_pb2.GetTimelineRequest(tenant=TENANT, customer_id=sms.customer_id)
        )
        entries = [e for e in timeline.entries if e.kind == identity_pb2.TIMELINE_ENTRY_KIND_MESSAGE_IN]
        return entries if len(entries) >= 3 else None

    entries = await eventually(three_messages)
    assert [(e.channel, e.summary) for e in entries] == [
        (common_pb2.CHANNEL_KIND_SMS, "My order is late"),
        (common_pb2.CHANNEL_KIND_WHATSAPP, "Sending a photo by mail"),
        (common_pb2.CHANNEL_KIND_EMAIL, "Here is the photo you asked for."),
    ]
    # One customer, and one contact: the conversation moved across channels without a new one.
    assert {e.customer_id for e in entries} == {sms.customer_id}
    assert {e.contact_id for e in entries} == {sms.contact_id}
    customer = await identity.GetCustomer(
        identity_pb2.GetCustomerRequest(tenant=TENANT, customer_id=sms.customer_id)
    )
    kinds = {i.kind for i in customer.customer.identifiers}
    assert {common_pb2.IDENTIFIER_KIND_PHONE, common_pb2.IDENTIFIER_KIND_EMAIL} <= kinds
