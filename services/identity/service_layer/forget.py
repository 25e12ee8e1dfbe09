"""Right to erasure: remove a customer's personal data from every stream and bucket of the region.

The other services' parts first (integration's analytics store and dead letters, the AI
service's caches of recent texts): a part that fails is named in the result's `incomplete`, and
the rest goes on, since the person's data here must go without delay. Then targeted removals
(timeline, contact links, index entries, global index entries, the profile, consent records, the
contact events by subject), then the objects (recordings, attachments) that belong to the
person, then one pass over every region stream and bucket that deletes whatever still mentions
the person. A non-personal tombstone stays, with counts.

A legal hold on the person or one of their contacts suspends erasure: the request is refused
naming the hold, before anything is removed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, TypeVar

import orjson

from ccmesh import naming
from identity.domain.audit import ERASURE, AuditRecord
from identity.domain.customer import Customer
from identity.service_layer.merge import MergeRefused
from identity.service_layer.ports import (
    ConsentEraser,
    ContactEvents,
    ErasureElsewhere,
    GlobalDirectory,
    History,
    LegalHolds,
    ObjectEraser,
    Profiles,
    Scrubber,
)
from identity.service_layer.timeline import customers_of_history

_T = TypeVar("_T")


#: Reads and purges kept in flight at once: a customer with 10,000 timeline entries costs a few
#: hundred round trips instead of 20,000, without flooding the connection.
_IN_FLIGHT = 200


async def _in_flight(call: Callable[[str], Awaitable[_T]], keys: Sequence[str]) -> list[_T]:
    results: list[_T] = []
    for start in range(0, len(keys), _IN_FLIGHT):
        results.extend(await asyncio.gather(*(call(key) for key in keys[start : start + _IN_FLIGHT])))
    return results


async def contacts_of_entries(history: History, keys: Sequence[str]) -> set[str]:
    """The contacts a customer's timeline entries (`keys`) belong to."""
    return {c for c in await _in_flight(history.contact_of_entry, keys) if c}


class Erasure(NamedTuple):
    #: Records removed (or, in the analytics store, de-identified) per stream, bucket or store.
    removed: dict[str, int]
    #: Key of the non-personal tombstone that stays.
    tombstone: str
    #: "<part>: <why>" for each other service's part that failed.
    incomplete: list[str]


class ErasureHeld(Exception):
    """A legal hold covers the person or one of their contacts; the message names the hold."""


async def forget_customer(
    store: Profiles,
    history: History,
    global_index: GlobalDirectory | None,
    scrubber: Scrubber,
    contact_events: ContactEvents,
    *,
    customer: Customer,
    region: str,
    actor: str,
    reason: str,
    objects: ObjectEraser | None = None,
    holds: LegalHolds | None = None,
    consents: ConsentEraser | None = None,
    elsewhere: Sequence[ErasureElsewhere] = (),
) -> Erasure:
    if customer.merged_into:
        raise MergeRefused(
            f"customer {customer.customer_id!r} was merged into {customer.merged_into!r}: erase that "
            "customer, which holds this one's identifiers and history, or unmerge first"
        )
    tenant_id, scope, customer_id = customer.tenant_id, customer.scope, customer.customer_id
    removed: dict[str, int] = {}

    def count(where: str, n: int = 1) -> None:
        if n:
            removed[where] = removed.get(where, 0) + n

    # A merged customer is one person: everyone folded into it is erased with it.
    group = [customer]
    for member_id in (await customers_of_history(store, customer))[1:]:
        found = await store.get(scope, member_id)
        if found is not None:
            group.append(found[0])
    timelines = [await history.timeline_keys(tenant_id, member.customer_id) for member in group]
    every_key = [key for keys in timelines for key in keys]
    contact_ids = await contacts_of_entries(history, every_key)
    group_ids = {member.customer_id for member in group}
    if holds is not None:
        for hold in await holds.holds(tenant_id):
            if hold.covers(tenant_id, group_ids, contact_ids):
                held = (
                    f"customer {hold.customer_id!r}" if hold.customer_id else f"contact {hold.contact_id!r}"
                )
                raise ErasureHeld(
                    f"legal hold {hold.hold_id!r} on {held} (placed by {hold.placed_by}: {hold.reason}) "
                    "suspends erasure; release the hold first"
                )
    incomplete: list[str] = []
    answers = await asyncio.gather(
        *(part.erase(tenant_id, sorted(group_ids), sorted(contact_ids)) for part in elsewhere),
        return_exceptions=True,
    )
    for part, answer in zip(elsewhere, answers, strict=True):
        if isinstance(answer, BaseException):  # any failure: reported to the caller, never dropped
            incomplete.append(f"{part.name}: {answer}")
            continue
        for where, n in answer.items():
            count(where, n)
    await _in_flight(history.purge, every_key)
    count(history.stream, len(every_key))
    for contact_id in contact_ids:
        await history.purge_link(tenant_id, contact_id)
        count(history.stream)
    identifiers = list(dict.fromkeys(i for member in group for i in member.identifiers))
    for identifier in identifiers:
        if await store.owner(scope, identifier) in group_ids:
            await store.purge_index(scope, identifier)
            count(f"KV_{naming.identity_bucket(region)}")
        if global_index is not None and await global_index.forget(tenant_id, scope, identifier, region):
            count(f"KV_{naming.IDENTITY_GLOBAL_INDEX_BUCKET}")
    for member in group:
        await store.purge_profile(scope, member.customer_id)
        count(f"KV_{naming.identity_bucket(region)}")
        if consents is not None:
            count(f"KV_{naming.identity_bucket(region)}", await consents.erase(scope, member.customer_id))
    # Attachments are stored by content, named by no one but the events that refer to them.
    referenced = [name for c in sorted(contact_ids) for name in await contact_events.objects_of(tenant_id, c)]
    for contact_id in contact_ids:
        count(contact_events.stream, await contact_events.purge_contact(tenant_id, contact_id))
    needles = [i.value.encode() for i in identifiers] + [c.encode() for c in group_ids | contact_ids]
    if objects is not None:
        for where, n in (await objects.erase([*needles, *(name.encode() for name in referenced)])).items():
            count(where, n)
    for where, n in (await scrubber.scrub(needles)).items():
        count(where, n)
    record = AuditRecord(
        audit_id=uuid.uuid4().hex,
        action=ERASURE,
        actor=actor,
        at=time.time(),
        reason=reason,
        target_customer_id=customer_id,
        source_customer_id="",
    )
    tombstone = await store.put_tombstone(
        scope,
        customer_id,
        orjson.dumps(
            {
                "erased_at": record.at,
                "actor": actor,
                "reason": reason,
                "removed": removed,
                "incomplete": incomplete,
            }
        ),
    )
    await history.add_audit(tenant_id, customer_id, record)
    return Erasure(removed, tombstone, incomplete)
