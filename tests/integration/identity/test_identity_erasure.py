"""Right to erasure: no trace of the person in any stream or bucket of the region; a tombstone stays."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually
from nats.js.api import DeliverPolicy

from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

GLOBEX = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
PHONE, EMAIL = common_pb2.IDENTIFIER_KIND_PHONE, common_pb2.IDENTIFIER_KIND_EMAIL


def ident(kind: int, value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=kind, value=value)  # type: ignore[arg-type]


async def every_message(platform: Platform) -> dict[str, list[bytes]]:
    """Subject + data of every message of every stream on the server (all of region eu's data)."""
    js = platform.nc.jetstream()
    found: dict[str, list[bytes]] = {}
    for info in await js.streams_info():
        name, state = info.config.name, info.state
        found[name] = []
        if not state.messages:
            continue
        sub = await js.subscribe(">", stream=name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        try:
            while True:
                message = await sub.next_msg(timeout=5)
                found[name].append(message.subject.encode() + b" " + (message.data or b""))
                if message.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    return found


async def person_with_history(
    identity: Any, events: EventPublisher, phone: str, email: str
) -> tuple[str, str]:
    customer = (
        await identity.ResolveCustomer(
            pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[ident(PHONE, phone), ident(EMAIL, email)])
        )
    ).customer
    contact_id = uuid.uuid4().hex
    base = {"tenant": GLOBEX, "region": "eu", "contact_id": contact_id, "source": "test"}
    await events.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            contact_created=events_pb2.ContactCreated(
                channel=common_pb2.CHANNEL_KIND_SMS,
                customer_id=customer.customer_id,
                entry_point="support",
                **{"from": ident(PHONE, phone)},
            ),
            **base,
        )
    )
    await events.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            message_received=events_pb2.MessageReceived(
                message_id=uuid.uuid4().hex,
                channel=common_pb2.CHANNEL_KIND_SMS,
                customer_id=customer.customer_id,
                text=f"write to {email}",
            ),
            **base,
        )
    )
    return customer.customer_id, contact_id


async def test_forget_removes_every_trace_keeps_a_tombstone_and_spares_everyone_else(
    platform: Platform,
) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    js = platform.nc.jetstream()
    events = EventPublisher(js, "eu")
    phone, email = "+4917612345678", "erase.me@example.org"
    customer_id, contact_id = await person_with_history(identity, events, phone, email)
    bystander, _ = await person_with_history(identity, events, "+4917687654321", "stay@example.org")
    # A dead letter that mentions the person, as a failed consumer would leave.
    await js.publish("ccdlq.eu.someconsumer", f"failed for {phone}".encode())

    async def both_timelines() -> bool:
        for who in (customer_id, bystander):
            reply = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=who))
            if len(reply.entries) != 2:
                return False
        return True

    await eventually(both_timelines)
    needles = [phone.encode(), email.encode(), customer_id.encode(), contact_id.encode()]
    before = await every_message(platform)
    assert any(n in m for msgs in before.values() for m in msgs for n in needles)  # the check can fail

    reply = await identity.ForgetCustomer(
        pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=customer_id, reason="GDPR art. 17 request #881")
    )

    assert reply.tombstone == f"tomb.globex.{customer_id}"
    assert reply.removed["events-eu"] == 2
    assert reply.removed["deadletter-eu"] == 1
    assert reply.removed["KV_identity-eu"] >= 3  # two index entries and the profile
    assert reply.removed["KV_identity-history-eu"] >= 3  # two timeline entries and the contact link
    after = await every_message(platform)
    for stream, messages in after.items():
        for message in messages:
            for needle in (phone.encode(), email.encode()):
                assert needle not in message, (stream, message)
            if message.endswith(b" "):
                continue  # an empty purge marker: a key made of random ids, no value
            assert contact_id.encode() not in message, (stream, message)
            if customer_id.encode() in message:
                # Only the tombstone, the erasure's own audit record and the access audit log
                # (who read the customer's data, by id, kept for accountability) name the id.
                assert message.startswith(
                    (b"$KV.identity-eu.tomb.", b"$KV.identity-history-eu.au.", b"ccaudit.eu.")
                ), message
    with pytest.raises(RpcError) as caught:
        await identity.GetCustomer(pb.GetCustomerRequest(tenant=GLOBEX, customer_id=customer_id))
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    # The same phone is now a stranger; the bystander keeps everything.
    again = await identity.ResolveCustomer(
        pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[ident(PHONE, phone)])
    )
    assert again.created and again.customer.customer_id != customer_id
    kept = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=bystander))
    assert len(kept.entries) == 2
    audit = await identity.ListAuditRecords(
        pb.ListAuditRecordsRequest(tenant=GLOBEX, customer_id=customer_id)
    )
    assert [r.action for r in audit.records] == [pb.AUDIT_ACTION_ERASURE]
    assert audit.records[0].reason == "GDPR art. 17 request #881"


async def test_only_admins_may_forget(platform: Platform) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    made = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[ident(PHONE, "+4917600000001")])
    )
    for role in ("supervisor", "agent", "integration"):
        with pytest.raises(RpcError) as caught:
            await platform.stub(IdentityServiceStub, tenant="globex", role=role).ForgetCustomer(
                pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=made.customer.customer_id, reason="x")
            )
        assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    still = await admin.GetCustomer(
        pb.GetCustomerRequest(tenant=GLOBEX, customer_id=made.customer.customer_id)
    )
    assert still.customer.customer_id == made.customer.customer_id


async def test_forgetting_a_merged_customer_erases_everyone_folded_into_it(platform: Platform) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    events = EventPublisher(platform.nc.jetstream(), "eu")
    keep, _ = await person_with_history(identity, events, "+4917655500011", "one@example.org")
    fold, _ = await person_with_history(identity, events, "+4917655500022", "two@example.org")
    await identity.MergeCustomers(
        pb.MergeCustomersRequest(
            tenant=GLOBEX, target_customer_id=keep, source_customer_id=fold, reason="same"
        )
    )
    with pytest.raises(RpcError) as caught:
        await identity.ForgetCustomer(pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=fold, reason="x"))
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION and keep in caught.value.message

    await identity.ForgetCustomer(pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=keep, reason="erasure"))

    after = b"\n".join(m for messages in (await every_message(platform)).values() for m in messages)
    for needle in ("+4917655500011", "one@example.org", "+4917655500022", "two@example.org"):
        assert needle.encode() not in after, needle
    for customer_id in (keep, fold):
        with pytest.raises(RpcError) as caught:
            await identity.GetCustomer(pb.GetCustomerRequest(tenant=GLOBEX, customer_id=customer_id))
        assert caught.value.code is grpc.StatusCode.NOT_FOUND
