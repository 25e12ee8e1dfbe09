"""One person across SMS, WhatsApp and e-mail is one customer with one history; merge and unmerge
are audited and restore both histories exactly."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually
from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

PHONE = common_pb2.IDENTIFIER_KIND_PHONE
EMAIL = common_pb2.IDENTIFIER_KIND_EMAIL
WHATSAPP = common_pb2.IDENTIFIER_KIND_WHATSAPP_ID
SMS, WA, MAIL = common_pb2.CHANNEL_KIND_SMS, common_pb2.CHANNEL_KIND_WHATSAPP, common_pb2.CHANNEL_KIND_EMAIL
TENANT = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")


def ident(kind: int, value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=kind, value=value)  # type: ignore[arg-type]


async def resolve(identity: Any, *identifiers: common_pb2.Identifier) -> Any:
    return await identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(tenant=TENANT, identifiers=list(identifiers))
    )


async def timeline(identity: Any, customer_id: str, **options: Any) -> list[Any]:
    entries: list[Any] = []
    token = ""
    while True:
        reply = await identity.GetTimeline(
            identity_pb2.GetTimelineRequest(
                tenant=TENANT, customer_id=customer_id, page_token=token, **options
            )
        )
        entries.extend(reply.entries)
        if not reply.next_page_token:
            return entries
        token = reply.next_page_token


async def contact(
    events: EventPublisher, customer_id: str, channel: int, sender: common_pb2.Identifier, text: str
) -> str:
    contact_id = uuid.uuid4().hex
    at = Timestamp()
    at.GetCurrentTime()
    base = {"tenant": TENANT, "region": "eu", "contact_id": contact_id, "source": "test", "occurred_at": at}
    await events.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            contact_created=events_pb2.ContactCreated(
                channel=channel, customer_id=customer_id, entry_point="support"
            ),
            **base,
        )
    )
    await events.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            message_received=events_pb2.MessageReceived(
                message_id=uuid.uuid4().hex, channel=channel, customer_id=customer_id, text=text
            ),
            **base,
        )
    )
    await events.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            contact_transferred=events_pb2.ContactTransferred(
                from_queue="bot", to_queue="billing", reason="ask"
            ),
            **base,
        )
    )
    return contact_id


@pytest.fixture
async def identity(platform: Platform) -> Any:
    await platform.start("identity")
    return platform.stub(IdentityServiceStub, tenant="globex", role="supervisor")


async def test_sms_whatsapp_and_email_of_one_person_resolve_to_one_customer_with_one_history(
    platform: Platform,
    identity: Any,
) -> None:
    events = EventPublisher(platform.nc.jetstream(), "eu")
    sms = await resolve(identity, ident(PHONE, "+44 20 7946 0958"))
    whatsapp = await resolve(identity, ident(WHATSAPP, "442079460958"))
    # The web form (or CRM) names both the e-mail and the phone once; from then on e-mail alone finds them.
    linked = await resolve(identity, ident(EMAIL, "Ann@Example.org"), ident(PHONE, "+442079460958"))
    mail = await resolve(identity, ident(EMAIL, "ann@example.org"))
    customer_id = sms.customer.customer_id
    assert sms.created and not whatsapp.created and not linked.created and not mail.created
    assert {whatsapp.customer.customer_id, linked.customer.customer_id, mail.customer.customer_id} == {
        customer_id
    }

    for channel, sender, text in (
        (SMS, ident(PHONE, "+442079460958"), "sms hi"),
        (WA, ident(PHONE, "+442079460958"), "wa hi"),
        (MAIL, ident(EMAIL, "ann@example.org"), "mail hi"),
    ):
        await contact(events, customer_id, channel, sender, text)

    async def all_nine() -> list[Any]:
        entries = await timeline(identity, customer_id, page_size=2)
        return entries if len(entries) == 9 else []

    entries = await eventually(all_nine)
    texts = [e.summary for e in entries if e.kind == identity_pb2.TIMELINE_ENTRY_KIND_MESSAGE_IN]
    assert texts == ["sms hi", "wa hi", "mail hi"]
    transfers = [e for e in entries if e.kind == identity_pb2.TIMELINE_ENTRY_KIND_TRANSFER]
    assert [t.channel for t in transfers] == [SMS, WA, MAIL]  # learnt from each contact's ContactCreated
    only_mail = await timeline(identity, customer_id, channels=[MAIL])
    assert {e.channel for e in only_mail} == {MAIL} and len(only_mail) == 3

    # Appends from other services (AI insight, outcome) are idempotent by entry id.
    entry = identity_pb2.TimelineEntry(
        entry_id="insight-1",
        customer_id=customer_id,
        kind=identity_pb2.TIMELINE_ENTRY_KIND_AI_INSIGHT,
        channel=MAIL,
        summary="ai:insight/42",
    )
    first = await identity.AppendTimelineEntry(
        identity_pb2.AppendTimelineEntryRequest(tenant=TENANT, entry=entry)
    )
    again = await identity.AppendTimelineEntry(
        identity_pb2.AppendTimelineEntryRequest(tenant=TENANT, entry=entry)
    )
    assert (first.appended, again.appended) == (True, False)
    assert len(await timeline(identity, customer_id)) == 10


async def test_merge_then_unmerge_restores_both_histories_exactly_and_is_audited(
    platform: Platform,
    identity: Any,
) -> None:
    events = EventPublisher(platform.nc.jetstream(), "eu")
    by_phone = await resolve(identity, ident(PHONE, "+33 6 11 22 33 44"))
    by_mail = await resolve(identity, ident(EMAIL, "marc@example.fr"))
    keep, fold = by_phone.customer.customer_id, by_mail.customer.customer_id
    assert keep != fold
    await contact(events, keep, SMS, ident(PHONE, "+33611223344"), "by sms")
    await contact(events, fold, MAIL, ident(EMAIL, "marc@example.fr"), "by mail")

    async def settled() -> bool:
        return len(await timeline(identity, keep)) == 3 and len(await timeline(identity, fold)) == 3

    await eventually(settled)
    keep_before, fold_before = await timeline(identity, keep), await timeline(identity, fold)

    merged = await identity.MergeCustomers(
        identity_pb2.MergeCustomersRequest(
            tenant=TENANT,
            target_customer_id=keep,
            source_customer_id=fold,
            reason="same person, confirmed by phone",
        )
    )
    assert list(merged.customer.merged_from) == [fold]
    assert {(i.kind, i.value) for i in merged.customer.identifiers} == {
        (PHONE, "+33611223344"),
        (EMAIL, "marc@example.fr"),
    }
    assert (await resolve(identity, ident(EMAIL, "marc@example.fr"))).customer.customer_id == keep
    combined = await timeline(identity, keep, page_size=4)
    assert sorted(e.entry_id for e in combined) == sorted(e.entry_id for e in keep_before + fold_before)
    assert [e.at for e in combined] == sorted(e.at for e in combined)  # one history, in order
    folded = await identity.GetCustomer(identity_pb2.GetCustomerRequest(tenant=TENANT, customer_id=fold))
    assert folded.customer.merged_into == keep

    unmerged = await identity.UnmergeCustomer(
        identity_pb2.UnmergeCustomerRequest(tenant=TENANT, source_customer_id=fold, reason="different people")
    )
    assert unmerged.source.merged_into == "" and list(unmerged.target.merged_from) == []
    assert await timeline(identity, keep) == keep_before
    assert await timeline(identity, fold) == fold_before
    assert (await resolve(identity, ident(EMAIL, "marc@example.fr"))).customer.customer_id == fold
    assert (await resolve(identity, ident(PHONE, "+33611223344"))).customer.customer_id == keep

    audit = await identity.ListAuditRecords(
        identity_pb2.ListAuditRecordsRequest(tenant=TENANT, customer_id=keep)
    )
    assert [r.action for r in audit.records] == [
        identity_pb2.AUDIT_ACTION_MERGE,
        identity_pb2.AUDIT_ACTION_UNMERGE,
    ]
    merge_record = audit.records[0]
    assert merge_record.actor == "test-supervisor"
    assert merge_record.reason == "same person, confirmed by phone"
    assert (merge_record.target_customer_id, merge_record.source_customer_id) == (keep, fold)
    assert len(merge_record.moved_identifiers) == 1 and merge_record.moved_identifiers[0].startswith("email.")
    assert "marc" not in str(audit)


async def test_merge_refusals_name_the_problem_and_change_nothing(identity: Any) -> None:
    one = (await resolve(identity, ident(PHONE, "+49 30 1234567"))).customer.customer_id
    two = (await resolve(identity, ident(PHONE, "+49 30 7654321"))).customer.customer_id
    cases = [
        (one, one, "x", grpc.StatusCode.INVALID_ARGUMENT, "must differ"),
        (one, "0" * 32, "x", grpc.StatusCode.NOT_FOUND, "0" * 32),
        (one, two, "", grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (one, "a.b", "x", grpc.StatusCode.INVALID_ARGUMENT, "source_customer_id"),
    ]
    for target, source, reason, code, named in cases:
        with pytest.raises(RpcError) as caught:
            await identity.MergeCustomers(
                identity_pb2.MergeCustomersRequest(
                    tenant=TENANT, target_customer_id=target, source_customer_id=source, reason=reason
                )
            )
        assert caught.value.code is code and named in caught.value.message, (target, source, caught.value)
    with pytest.raises(RpcError) as caught:
        await identity.UnmergeCustomer(
            identity_pb2.UnmergeCustomerRequest(tenant=TENANT, source_customer_id=two, reason="x")
        )
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION and "not merged" in caught.value.message
    for customer_id in (one, two):
        reply = await identity.GetCustomer(
            identity_pb2.GetCustomerRequest(tenant=TENANT, customer_id=customer_id)
        )
        assert not reply.customer.merged_from and not reply.customer.merged_into
