"""Accept one inbound customer message: who is it, which contact, which events, what next.

Steps, each safe to repeat: claim the provider message id while the customer is resolved
(identity service, over the mesh); find the contact (the call back URL's contact, the e-mail
thread's contact, else the customer's open contact, opening one if there is none); publish
ContactCreated and MessageReceived (sent together, acknowledged together) with ids derived from
the contact and the provider message, so JetStream's de-duplication drops a repeat; drive the
conversation (start the journey or queue the contact, feed a waiting journey; `Conversations`);
record the result under the claim.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ccmesh import telemetry
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain import events as ev
from gateway.domain.inbound import Accepted, InboundMessage, provisional_customer_id
from gateway.service_layer.consent_gate import ConsentGate
from gateway.service_layer.conversation import Conversations
from gateway.service_layer.ports import Contacts, GatewayEvents, IdentityClient

#: `accept_inbound` with its collaborators bound, once, in bootstrap: every entrypoint (tenant
#: API, gRPC, provider webhooks, SMTP, web chat) gets that one instance. Returns the result and
#: whether the message repeats one already accepted.
AcceptInbound = Callable[[InboundMessage], Awaitable[tuple[Accepted, bool]]]


def _discard(task: asyncio.Future[Any]) -> None:
    """Give up a step started alongside: stopped if still running, its failure (if any) seen."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


async def _contact_for(message: InboundMessage, customer_id: str, store: Contacts) -> tuple[str, bool]:
    """The contact the message joins, and whether it was opened now."""
    tenant_id = message.tenant_id
    if message.contact_hint:
        # The platform's own call back URL names the contact: the call continues it, even when
        # the number that answers belongs to a profile other than the chat visitor's.
        record, _ = await store.contact(tenant_id, message.contact_hint)
        if record is not None and await store.is_open(tenant_id, record):
            return record.contact_id, False
    if message.in_reply_to:
        thread_contact = await store.thread_contact(tenant_id, message.in_reply_to)
        if thread_contact is not None:
            record, _ = await store.contact(tenant_id, thread_contact)
            if record is not None and await store.is_open(tenant_id, record):
                return record.contact_id, False
    return await store.open_contact(tenant_id, customer_id)


async def _opening_unconfirmed(
    store: Contacts, tenant_id: str, contact_id: str, conversations: Conversations | None
) -> bool:
    """Whether an open contact's ContactCreated may be missing from the stream: the message that
    opened it failed before its events were confirmed (the provider retries it, or the customer
    writes again), so its first step never ran. Sent again then; its fixed id makes the stream
    drop it if it was stored after all. (Without conversations, no first step marks a contact.)"""
    if conversations is None:
        return False
    return not await store.started(tenant_id, contact_id)


async def accept_inbound(
    message: InboundMessage,
    *,
    region: str,
    store: Contacts,
    identity: IdentityClient,
    events: GatewayEvents,
    conversations: Conversations | None = None,
    consent: ConsentGate | None = None,
) -> tuple[Accepted, bool]:
    """Returns the result and whether it is a repeat of an already accepted message."""
    tenant = common_pb2.TenantRef(tenant_id=message.tenant_id, brand_id=message.brand_id)
    sender = common_pb2.Identifier(kind=message.from_kind, value=message.from_value)  # type: ignore[arg-type]
    # Asked while the claim is taken: resolving is idempotent (the same identifier gives the same
    # customer), so a repeat of a message only wastes an answer it does not use.
    resolving = asyncio.ensure_future(
        identity.ResolveCustomer(identity_pb2.ResolveCustomerRequest(tenant=tenant, identifiers=[sender]))
    )
    try:
        claim = await store.claim_message(message.tenant_id, message.idempotency_token())
    except BaseException:
        _discard(resolving)
        raise
    if claim.previous is not None:
        _discard(resolving)
        return claim.previous, True
    acknowledged: asyncio.Future[Any] | None = None
    reading: asyncio.Future[Any] | None = None
    in_contact_trace = contextlib.ExitStack()
    try:
        resolved = await resolving
        customer_id = resolved.customer.customer_id or provisional_customer_id(
            home_region=resolved.remote.home_region,
            reference=resolved.remote.reference,
            from_kind=message.from_kind,
            from_value=message.from_value,
        )
        if conversations is not None and resolved.created:
            # A customer created just now opens a contact: what its first message says is read
            # while the contact is opened.
            reading = conversations.read_first_message(message)
        contact_id, created = await _contact_for(message, customer_id, store)
        # A later message of an open contact is that contact's work: what follows joins the
        # contact's trace, linked to this request's (a new contact's trace is this request's).
        in_contact_trace.enter_context(telemetry.contact_span(contact_id, "inbound message"))
        opening: list[ev.GatewayEvent] = []
        if created or await _opening_unconfirmed(store, message.tenant_id, contact_id, conversations):
            opening.append(
                ev.ContactCreated(
                    tenant_id=message.tenant_id,
                    brand_id=message.brand_id,
                    contact_id=contact_id,
                    region=region,
                    event_id=f"{contact_id}.created",
                    channel=message.channel,
                    customer_id=customer_id,
                    entry_point=message.entry_point,
                    from_kind=message.from_kind,
                    from_value=message.from_value,
                )
            )
        message_id = message.message_id()
        # Sent in order now, acknowledged together: the contact's record is written meanwhile,
        # and nothing that follows these events on the stream is published before their acks.
        acknowledged = asyncio.ensure_future(
            await events.send(
                *opening,
                ev.MessageReceived(
                    tenant_id=message.tenant_id,
                    brand_id=message.brand_id,
                    contact_id=contact_id,
                    region=region,
                    event_id=message_id,
                    message_id=message_id,
                    channel=message.channel,
                    customer_id=customer_id,
                    text=message.text,
                    provider_message_id=message.provider_message_id,
                    subject=message.subject,
                    language=message.language,
                    sender_name=message.sender_name,
                    attachments=message.attachments,
                ),
            )
        )
        if message.thread_id:
            # Replies to this mail (and to the platform's answers in its thread) join this contact.
            await store.remember_thread(message.tenant_id, message.thread_id, contact_id)
        actions: tuple[Any, ...] = ()
        journey_status = ""
        if conversations is not None:
            outcome = await conversations.after_message(
                message,
                contact_id=contact_id,
                customer_id=customer_id,
                message_id=message_id,
                acknowledged=acknowledged,
                new_contact=created,
                reading=reading,
            )
            actions, journey_status = outcome.actions, outcome.journey_status
        else:
            await acknowledged
        if consent is not None:
            # "STOP RECORDING" and the like withdraw consent on the channel it was given on.
            await consent.withdraw_by_keyword(
                message.text,
                tenant_id=message.tenant_id,
                brand_id=message.brand_id,
                customer_id=customer_id,
                contact_id=contact_id,
                channel=message.channel,
                message_id=message_id,
            )
    except BaseException:
        _discard(resolving)
        for step in (acknowledged, reading):
            if step is not None:
                _discard(step)
        await store.release(claim)
        raise
    finally:
        in_contact_trace.close()
    result = Accepted(
        contact_id=contact_id,
        message_id=message_id,
        customer_id=customer_id,
        # A contact opened by a try that failed is announced by this one: its creation too.
        contact_created=created or bool(opening),
        actions=actions,
        journey_status=journey_status,
    )
    await store.complete(claim, result)
    return result, False
