"""Build and read a customer's cross-channel timeline."""

from __future__ import annotations

from collections.abc import Sequence

from contactcenter.events.v1 import events_pb2
from identity.domain.customer import Customer
from identity.domain.timeline import ContactLink, TimelineEntry, entry_from_event, needs_link
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
    elif needs_link(event):
        link = await history.linked(tenant_id, event.contact_id)
    entry = entry_from_event(event, link)
    if entry is None:
        return False
    return await history.append(tenant_id, entry)


async def record_events(history: History, events: Sequence[events_pb2.Event]) -> list[BaseException | None]:
    """`record_event` for a batch, in fewer store operations: a contact's link is read at most
    once per batch (and not at all when the batch's own ContactCreated made it, or when the event
    makes no entry); the entries are appended in the batch's order (a merged timeline reads in
    stream order) in one pipelined write. Returns each event's failure (None when recorded or
    not part of any history)."""
    outcomes: list[BaseException | None] = [None] * len(events)
    links: dict[tuple[str, str], ContactLink | None] = {}
    indexes: list[int] = []
    entries: list[tuple[str, TimelineEntry]] = []
    for index, event in enumerate(events):
        tenant_id = event.tenant.tenant_id
        if not tenant_id:
            continue
        try:
            link = await _link_of(history, event, links)
        except Exception as error:
            outcomes[index] = error
            continue
        entry = entry_from_event(event, link)
        if entry is not None:
            indexes.append(index)
            entries.append((tenant_id, entry))
    if entries:
        for index, result in zip(indexes, await history.append_all(entries), strict=True):
            if isinstance(result, BaseException):
                outcomes[index] = result
    return outcomes


async def _link_of(
    history: History, event: events_pb2.Event, links: dict[tuple[str, str], ContactLink | None]
) -> ContactLink | None:
    """The event's contact link: stored (first ContactCreated wins) or read once per batch."""
    tenant_id = event.tenant.tenant_id
    key = (tenant_id, event.contact_id)
    if event.HasField("contact_created"):
        created = event.contact_created
        if not created.customer_id:
            return None
        link = ContactLink(created.customer_id, created.channel)
        await history.link(tenant_id, event.contact_id, link)
        # A contact is created once: its ContactCreated (or a redelivery of it) is its link.
        links.setdefault(key, link)
        return link
    if not needs_link(event):
        return None
    if key not in links:
        links[key] = await history.linked(tenant_id, event.contact_id)
    return links[key]


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
