"""The e-mail channel end to end: real mail sent with `smtplib` to the gateway's SMTP listener,
with the real identity, routing and gateway. A mail lands on the right customer's timeline, its
attachment is stored by reference; a reply in the same thread (to the customer's own mail or to
the agent's answer, which goes out threaded through the relay) joins the same contact; a resent
Message-ID creates nothing; bad mail gets a clear SMTP error and loses nothing accepted."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from email.message import EmailMessage
from typing import Any

import pytest
from _gateway_conversation import REGION, apply_endpoints, endpoint, events_of_kind, start_gateway
from _platform import Platform, eventually
from _providers import SmtpSink
from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.events import EventPublisher
from ccmesh.natsserver import free_port
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from gateway.adapters.contact_store import ContactStore

pytestmark = pytest.mark.timeout(120)

EMAIL = common_pb2.CHANNEL_KIND_EMAIL
TENANT = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
MAX_MAIL_BYTES = 64 * 1024
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


def mail(
    message_id: str,
    text: str,
    *,
    sender: str = "Jane Doe <jane@example.com>",
    to: str = "support@acme.example",
    subject: str = "Broken kettle",
    answers: tuple[str, ...] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if answers:
        message["In-Reply-To"] = answers[-1]
        message["References"] = " ".join(answers)
    message.set_content(text)
    return message


def send(port: int, message: EmailMessage, to: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.send_message(message, to_addrs=to)


@pytest.fixture
async def running(platform: Platform) -> Any:
    relay = SmtpSink()
    await relay.start()
    smtp_port = free_port()
    await apply_endpoints(
        platform.nc,
        endpoint(
            "mail-support",
            "email",
            "Support@ACME.example",
            queue="support",
            smtp={"host": "127.0.0.1", "port": relay.port, "starttls": False},
        ),
    )
    await platform.start("identity")
    await start_gateway(platform, smtp_port=smtp_port, smtp_max_message_bytes=MAX_MAIL_BYTES)
    yield smtp_port, relay
    await relay.stop()


async def timeline_of(platform: Platform, address: str) -> tuple[str, list[Any]]:
    identity = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    resolved = await identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(
            tenant=TENANT,
            identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=address)],
        )
    )
    timeline = await identity.GetTimeline(
        identity_pb2.GetTimelineRequest(tenant=TENANT, customer_id=resolved.customer.customer_id)
    )
    return resolved.customer.customer_id, list(timeline.entries)


def messages_in(entries: list[Any]) -> list[Any]:
    return [e for e in entries if e.kind == identity_pb2.TIMELINE_ENTRY_KIND_MESSAGE_IN]


async def test_a_mail_becomes_a_message_on_the_customers_timeline_and_its_thread_stays_one_contact(
    platform: Platform,
    running: tuple[int, SmtpSink],
) -> None:
    port, relay = running
    first = mail("<kettle-1@example.com>", "My kettle is broken.\nOrder A-1.")
    first.add_attachment(PDF, maintype="application", subtype="pdf", filename="receipt.pdf")
    await asyncio.to_thread(send, port, first)

    async def on_timeline() -> tuple[str, list[Any]] | None:
        customer, entries = await timeline_of(platform, "jane@example.com")
        return (customer, entries) if messages_in(entries) else None

    customer_id, entries = await eventually(on_timeline)
    (received,) = messages_in(entries)
    assert received.summary == "My kettle is broken.\nOrder A-1."
    assert received.channel == EMAIL
    contact_id = received.contact_id

    # The attachment is a reference on the event; its bytes are in the region's object store.
    (event,) = await events_of_kind(platform.nc, contact_id, "message_received")
    assert event.message_received.subject == "Broken kettle"
    assert event.message_received.provider_message_id == "<kettle-1@example.com>"
    (attachment,) = event.message_received.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "receipt.pdf",
        "application/pdf",
        len(PDF),
    )
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    store = await platform.nc.jetstream().object_store(attachment.bucket)
    assert attachment.bucket == f"attachments-{REGION}"
    assert (await store.get(attachment.object)).data == PDF

    # The customer answers in the same thread, quoting the first mail: same contact, quote trimmed.
    reply = mail(
        "<kettle-2@example.com>",
        "It is model K-9.\n\nOn Mon, Jane wrote:\n> My kettle is broken.",
        subject="Re: Broken kettle",
        answers=("<kettle-1@example.com>",),
    )
    await asyncio.to_thread(send, port, reply)
    received_events = await events_of_kind(platform.nc, contact_id, "message_received", 2)
    assert received_events[1].message_received.text == "It is model K-9."

    # The agent answers; the relay gets a mail threaded under the customer's last one.
    stamp = Timestamp()
    stamp.GetCurrentTime()
    await EventPublisher(platform.nc.jetstream(), REGION).publish(
        events_pb2.Event(
            event_id="agent-mail-1",
            occurred_at=stamp,
            tenant=TENANT,
            region=REGION,
            contact_id=contact_id,
            source="gateway",
            schema_version=1,
            message_sent=events_pb2.MessageSent(
                message_id="agent-mail-1",
                channel=EMAIL,
                text="A new kettle is on its way.",
                sender="agent:a1",
            ),
        )
    )
    (status,) = await events_of_kind(platform.nc, contact_id, "message_status_changed")
    assert (status.message_status_changed.status, status.message_status_changed.provider) == ("sent", "smtp")
    ((recipients, answer),) = relay.mails
    assert recipients == ["jane@example.com"]
    assert answer["Subject"] == "Re: Broken kettle"
    assert answer["In-Reply-To"] == "<kettle-2@example.com>"
    assert answer["References"].split() == ["<kettle-1@example.com>", "<kettle-2@example.com>"]

    # Her reply to the agent's answer (only its Message-ID in In-Reply-To) joins the same contact.
    to_agent = mail(
        "<kettle-3@example.com>", "Thank you!", subject="Re: Broken kettle", answers=(answer["Message-ID"],)
    )
    await asyncio.to_thread(send, port, to_agent)
    received_events = await events_of_kind(platform.nc, contact_id, "message_received", 3)
    assert received_events[2].message_received.text == "Thank you!"

    # A sending server's retry of an accepted mail creates nothing new.
    stored = await platform.event_count()
    await asyncio.to_thread(send, port, reply)
    assert await platform.event_count() == stored

    async def thread_on_timeline() -> list[Any] | None:
        # The timeline is identity's reading of the events: it follows them, a moment behind.
        _, entries = await timeline_of(platform, "jane@example.com")
        return entries if len(messages_in(entries)) >= 3 else None

    entries = await eventually(thread_on_timeline)
    assert [e.summary for e in messages_in(entries)] == [
        "My kettle is broken.\nOrder A-1.",
        "It is model K-9.",
        "Thank you!",
    ]
    assert {e.contact_id for e in messages_in(entries)} == {contact_id}
    assert all(e.customer_id == customer_id for e in entries)

    # The agent wraps the contact up (the workspace closes it in the gateway's store); a later mail,
    # even in the old thread, opens a new contact for the same customer.
    store = ContactStore(await platform.nc.jetstream().key_value(f"gateway-{REGION}"))
    assert await store.close_contact("acme", customer_id, contact_id)
    later = mail("<kettle-4@example.com>", "It broke again.", answers=("<kettle-3@example.com>",))
    await asyncio.to_thread(send, port, later)

    async def new_contact() -> Any:
        _, entries = await timeline_of(platform, "jane@example.com")
        latest = messages_in(entries)[-1]
        return latest if latest.summary == "It broke again." else None

    latest = await eventually(new_contact)
    assert latest.contact_id != contact_id and latest.customer_id == customer_id


async def test_bad_mail_gets_a_clear_smtp_error_and_nothing_accepted_is_lost(
    platform: Platform,
    running: tuple[int, SmtpSink],
) -> None:
    port, _ = running
    await asyncio.to_thread(send, port, mail("<ok-1@example.com>", "Hello", sender="sam@example.com"))

    async def accepted_once() -> int:
        _, entries = await timeline_of(platform, "sam@example.com")
        return len(messages_in(entries))

    assert await eventually(accepted_once) == 1
    stored = await platform.event_count()

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(send, port, mail("<x-1@example.com>", "Hi", to="nobody@acme.example"))
    ((code, reason),) = refused.value.recipients.values()
    assert code == 550 and b"nobody@acme.example" in reason and b"unknown recipient" in reason

    with pytest.raises(smtplib.SMTPResponseException) as too_big:
        await asyncio.to_thread(send, port, mail("<x-2@example.com>", "x" * (MAX_MAIL_BYTES + 1)))
    assert too_big.value.smtp_code == 552

    def without_sender() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            client.mail("")
            client.rcpt("support@acme.example")
            # smtplib returns (not raises) the server's answer to the data itself.
            return client.data(b"Subject: no sender\r\n\r\nWho am I?\r\n")

    code, reason = await asyncio.to_thread(without_sender)
    assert code == 550 and b"From" in reason

    assert await platform.event_count() == stored
    assert await eventually(accepted_once) == 1
    # The listener still serves everyone else.
    await asyncio.to_thread(send, port, mail("<ok-2@example.com>", "Still there?", sender="sam@example.com"))

    async def accepted_twice() -> bool:
        return await accepted_once() == 2

    assert await eventually(accepted_twice)
