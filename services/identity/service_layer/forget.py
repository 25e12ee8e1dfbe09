"""Right to erasure: remove a customer's personal data from every stream and bucket of the region.

Targeted removals first (timeline, contact links, index entries, global index entries, the
profile, the contact events by subject), then one pass over every region stream and bucket
that deletes whatever still mentions the person. A non-personal tombstone stays, with counts.
"""

from __future__ import annotations

import time
import uuid

import orjson

from ccmesh import naming
from identity.domain.audit import ERASURE, AuditRecord
from identity.domain.customer import Customer
from identity.service_layer.merge import MergeRefused
from identity.service_layer.ports import ContactEvents, GlobalDirectory, History, Profiles, Scrubber
from identity.service_layer.timeline import customers_of_history


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
) -> tuple[dict[str, int], str]:
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
    contact_ids: set[str] = set()
    for member in group:
        timeline_keys = await history.timeline_keys(tenant_id, member.customer_id)
        for key in timeline_keys:
            contact_id = await history.contact_of_entry(key)
            if contact_id:
                contact_ids.add(contact_id)
            await history.purge(key)
        count(history.stream, len(timeline_keys))
    for contact_id in contact_ids:
        await history.purge_link(tenant_id, contact_id)
        count(history.stream)
    group_ids = {member.customer_id for member in group}
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
    for contact_id in contact_ids:
        count(contact_events.stream, await contact_events.purge_contact(tenant_id, contact_id))
    needles = [i.value.encode() for i in identifiers] + [c.encode() for c in group_ids | contact_ids]
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
        orjson.dumps({"erased_at": record.at, "actor": actor, "reason": reason, "removed": removed}),
    )
    await history.add_audit(tenant_id, customer_id, record)
    return removed, tombstone
