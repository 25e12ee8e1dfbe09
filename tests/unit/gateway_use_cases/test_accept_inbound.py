"""`accept_inbound` over fakes: who, which contact, which events, and repeats that change nothing."""

from __future__ import annotations

import functools

import grpc
import pytest
from fakes.gateway_fakes import REGION, FakeContacts, FakeEvents, FakeIdentity, sms

from ccmesh.status import RpcError
from gateway.adapters.contact_store import StillProcessing
from gateway.domain.contact import ContactRecord
from gateway.service_layer.accept_inbound import AcceptInbound, accept_inbound


def bound(contacts: FakeContacts, identity: object, events: FakeEvents) -> AcceptInbound:
    return functools.partial(
        accept_inbound,
        region=REGION,
        store=contacts,
        identity=identity,
        events=events,  # type: ignore[arg-type]
    )


async def test_a_first_message_opens_a_contact_and_publishes_its_creation_and_the_message() -> None:
    contacts, identity, events = FakeContacts(), FakeIdentity(), FakeEvents()
    accepted, duplicate = await bound(contacts, identity, events)(sms("SM1", text="where is my order"))
    assert not duplicate and accepted.contact_created
    assert events.kinds() == ["contact_created", "message_received"]
    created, received = events.published
    assert created.contact_id == received.contact_id == accepted.contact_id
    assert created.contact_created.customer_id == accepted.customer_id == "cust-1"
    assert received.message_received.text == "where is my order"
    assert received.event_id == accepted.message_id
    assert {e.region for e in events.published} == {REGION}


async def test_a_repeat_of_the_provider_message_returns_the_first_result_and_publishes_nothing() -> None:
    contacts, identity, events = FakeContacts(), FakeIdentity(), FakeEvents()
    accept = bound(contacts, identity, events)
    first, _ = await accept(sms("SM1"))
    again, duplicate = await accept(sms("SM1"))
    assert duplicate and again == first
    assert len(events.published) == 2
    assert len(identity.requests) == 1


async def test_the_next_message_of_the_customer_joins_the_open_contact() -> None:
    contacts, identity, events = FakeContacts(), FakeIdentity(), FakeEvents()
    accept = bound(contacts, identity, events)
    first, _ = await accept(sms("SM1"))
    second, duplicate = await accept(sms("SM2", text="still there?"))
    assert not duplicate and not second.contact_created
    assert second.contact_id == first.contact_id
    assert events.kinds() == ["contact_created", "message_received", "message_received"]


async def test_a_failure_on_the_way_releases_the_claim_so_the_providers_retry_is_accepted() -> None:
    contacts, events = FakeContacts(), FakeEvents()

    class FailingOnce(FakeIdentity):
        failed = False

        async def ResolveCustomer(self, request: object, **kwargs: object) -> object:
            if not self.failed:
                self.failed = True
                raise RpcError(grpc.StatusCode.UNAVAILABLE, "identity is restarting")
            return await super().ResolveCustomer(request, **kwargs)

    accept = bound(contacts, FailingOnce(), events)
    with pytest.raises(RpcError):
        await accept(sms("SM1"))
    assert events.published == [] and contacts.claims == {}
    accepted, duplicate = await accept(sms("SM1"))
    assert not duplicate and accepted.contact_created
    assert events.kinds() == ["contact_created", "message_received"]


async def test_a_message_still_being_processed_elsewhere_is_refused_for_a_retry() -> None:
    contacts, events = FakeContacts(), FakeEvents()
    message = sms("SM1")
    await contacts.claim_message(message.tenant_id, message.idempotency_token())
    with pytest.raises(StillProcessing):
        await bound(contacts, FakeIdentity(), events)(message)
    assert events.published == []


async def test_an_email_reply_joins_the_open_contact_of_its_thread_whoever_sends_it() -> None:
    contacts, identity, events = FakeContacts(), FakeIdentity(), FakeEvents()
    accept = bound(contacts, identity, events)
    first, _ = await accept(sms("mail-1", thread_id="<m1@example.com>"))
    # The record the conversation writes for the contact (no Conversations bound here).
    record = ContactRecord(
        contact_id=first.contact_id, tenant_id="acme", brand_id="", customer_id="cust-1", entry_point=""
    )
    await contacts.change_contact("acme", first.contact_id, lambda _: record)
    # A colleague answers in the thread (Message-IDs compare case-insensitively).
    joined, _ = await accept(sms("mail-2", phone="+447700900003", in_reply_to=("<M1@example.com>",)))
    assert joined.contact_id == first.contact_id and not joined.contact_created
    # Once the contact is closed, the thread no longer holds the colleague: they get their own.
    await contacts.close_contact("acme", "cust-1", first.contact_id)
    later, _ = await accept(sms("mail-3", phone="+447700900003", in_reply_to=("<m1@example.com>",)))
    assert later.contact_id != first.contact_id
