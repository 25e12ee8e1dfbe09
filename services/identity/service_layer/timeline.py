"""Build and read a customer's cross-channel timeline."""

from __future__ import annotations

import asyncio
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
    """`record_event` for a batch, in fewer store operations and round trips: a contact's link is
    read at most once per batch (and not at all when the batch's own ContactCreated makes it, or
    when the event makes no entry), the reads sent together; the batch's new links and its entries
    (in the batch's order: a merged timeline reads in stream order) go out in one pipelined write.
    Returns each event's failure (None when recorded or not part of any history)."""
    outcomes: list[BaseException | None] = [None] * len(events)
    made: dict[tuple[str, str], ContactLink] = {}
    creating: list[tuple[int, tuple[str, str], ContactLink]] = []
    for index, event in enumerate(events):
        link = _link_made_by(event)
        if link is not None:
            key = (event.tenant.tenant_id, event.contact_id)
            creating.append((index, key, link))
            # A contact is created once: its ContactCreated (or a redelivery of it) is its link.
            made.setdefault(key, link)
    linked_contacts = dict.fromkeys(
        (event.tenant.tenant_id, event.contact_id)
        for event in events
        if event.tenant.tenant_id and needs_link(event)
    )
    wanted = [key for key in linked_contacts if key not in made]
    read = await asyncio.gather(*(history.linked(*key) for key in wanted), return_exceptions=True)
    stored = dict(zip(wanted, read, strict=True))
    indexes: list[int] = []
    entries: list[tuple[str, TimelineEntry]] = []
    for index, event in enumerate(events):
        tenant_id = event.tenant.tenant_id
        if not tenant_id:
            continue
        link = _link_made_by(event)
        if link is None and needs_link(event):
            key = (tenant_id, event.contact_id)
            found = made[key] if key in made else stored[key]
            if isinstance(found, BaseException):
                outcomes[index] = found
                continue
            link = found
        entry = entry_from_event(event, link)
        if entry is not None:
            indexes.append(index)
            entries.append((tenant_id, entry))
    if not creating and not entries:
        return outcomes
    link_failures, appended = await history.write_all(
        [(tenant_id, contact_id, link) for _, (tenant_id, contact_id), link in creating], entries
    )
    for (index, _, _), failure in zip(creating, link_failures, strict=True):
        outcomes[index] = outcomes[index] or failure
    for index, result in zip(indexes, appended, strict=True):
        if isinstance(result, BaseException):
            outcomes[index] = result
    return outcomes


def _link_made_by(event: events_pb2.Event) -> ContactLink | None:
    """The contact link a ContactCreated of a known customer makes (None for any other event)."""
    if not event.tenant.tenant_id or not event.HasField("contact_created"):
        return None
    created = event.contact_created
    return ContactLink(created.customer_id, created.channel) if created.customer_id else None


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
