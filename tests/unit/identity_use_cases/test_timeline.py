"""`record_event` and `read_timeline` over fakes: events become entries once, messages find their
customer through the contact link, pages follow each other, merged histories read as one."""

from __future__ import annotations

from fakes.identity_fakes import TENANT, FakeHistory, FakeProfiles, email, phone

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from identity.service_layer.merge import merge_customers
from identity.service_layer.resolve import ResolveContext, resolve_customer
from identity.service_layer.timeline import read_timeline, record_event

SMS = common_pb2.CHANNEL_KIND_SMS


def created(event_id: str, contact_id: str, customer_id: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id=TENANT),
        contact_id=contact_id,
        contact_created=events_pb2.ContactCreated(channel=SMS, customer_id=customer_id),
    )


def sent(event_id: str, contact_id: str, text: str) -> events_pb2.Event:
    """A reply: the event names only the contact, the customer comes from the contact's link."""
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id=TENANT),
        contact_id=contact_id,
        message_sent=events_pb2.MessageSent(message_id=event_id, channel=SMS, text=text),
    )


async def test_events_become_entries_once_and_replies_find_their_customer_by_the_contact() -> None:
    history = FakeHistory()
    assert await record_event(history, created("e1", "c1", "cust-1"))
    assert await record_event(history, sent("e2", "c1", "where is my order"))
    assert not await record_event(history, sent("e2", "c1", "where is my order"))  # redelivery
    # A reply on a contact nobody linked has no customer: not part of any history.
    assert not await record_event(history, sent("e3", "unknown-contact", "hi"))
    assert len(await history.timeline_keys(TENANT, "cust-1")) == 2


async def test_pages_follow_each_other_and_a_merged_customers_history_reads_as_one() -> None:
    store, history = FakeProfiles(), FakeHistory()
    ctx = ResolveContext(store=store, tenant_id=TENANT, scope=TENANT, region="eu")  # type: ignore[arg-type]
    a = (await resolve_customer(ctx, [phone("+447700900001")])).customer
    b = (await resolve_customer(ctx, [email("jane@example.com")])).customer
    assert a is not None and b is not None
    await record_event(history, created("a1", "ca", a.customer_id))
    await record_event(history, created("b1", "cb", b.customer_id))
    for index in range(3):
        await record_event(history, sent(f"a-msg-{index}", "ca", f"a {index}"))
        await record_event(history, sent(f"b-msg-{index}", "cb", f"b {index}"))
    target, _ = await merge_customers(
        store, history, scope=TENANT, target_id=a.customer_id, source_id=b.customer_id, actor="x", reason="y"
    )
    seen: list[str] = []
    start = 0
    while True:
        page, start = await read_timeline(
            store, history, target, start_sequence=start, page_size=3, channels=frozenset()
        )
        seen.extend(entry.entry_id for entry in page)
        if not start:
            break
    assert seen == ["a1", "b1", "a-msg-0", "b-msg-0", "a-msg-1", "b-msg-1", "a-msg-2", "b-msg-2"]
