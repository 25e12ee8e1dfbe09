"""Build and read a customer's cross-channel timeline."""

from __future__ import annotations

from contactcenter.events.v1 import events_pb2
from identity.domain.customer import Customer
from identity.domain.timeline import ContactLink, TimelineEntry, entry_from_event
from identity.service_layer.ports import History, Profiles

MAX_PAGE = 200
DEFAULT_PAGE = 50


async def record_event(history: History, event: events_pb2.Event) -> bool:
    """Append what the event tells to the customer's timeline (idempotent); True when appended."""
    tenant_id = event.tenant.tenant_id
    if not tenant_id:
        return False
    link: ContactLink | None = None
    if event.HasField("contact_created"):
        created = event.contact_created
        if created.customer_id:
            link = ContactLink(created.customer_id, created.channel)
            await history.link(tenant_id, event.contact_id, link)
    elif event.contact_id:
        link = await history.linked(tenant_id, event.contact_id)
    entry = entry_from_event(event, link)
    if entry is None:
        return False
    return await history.append(tenant_id, entry)


async def customers_of_history(store: Profiles, customer: Customer) -> list[str]:
    """The customer and everyone merged into it (recursively): their histories are one."""
    ids = [customer.customer_id]
    pending = list(customer.merged_from)
    while pending:
        current = pending.pop(0)
        if current in ids:
            continue
        ids.append(current)
        found = await store.get(customer.scope, current)
        if found is not None:
            pending.extend(found[0].merged_from)
    return ids


async def read_timeline(
    store: Profiles,
    history: History,
    customer: Customer,
    *,
    start_sequence: int,
    page_size: int,
    channels: frozenset[int],
) -> tuple[list[TimelineEntry], int]:
    """One page, oldest first; the second value is where the next page starts (0: no more)."""
    merged: list[tuple[int, TimelineEntry]] = []
    more = False
    for customer_id in await customers_of_history(store, customer):
        found, has_more = await history.entries_after(
            customer.tenant_id, customer_id, start_sequence, page_size, channels
        )
        merged.extend(found)
        more = more or has_more
    merged.sort(key=lambda item: item[0])
    page = merged[:page_size]
    if len(merged) > page_size or more:
        return [entry for _, entry in page], page[-1][0] + 1
    return [entry for _, entry in page], 0
