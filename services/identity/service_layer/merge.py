"""Merge two customers into one and undo it, with an audit record for each.

A merge never moves or rewrites history: the source customer stays stored with `merged_into`
set and its identifiers recorded; its index entries point at the target; the target lists the
source in `merged_from`, so reading the target's timeline reads both. An unmerge points the
source's identifiers back at it and removes it from the target, so both histories read exactly
as before the merge.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from identity.domain.audit import MERGE, UNMERGE, AuditRecord
from identity.domain.customer import Customer
from identity.service_layer.metrics import DEFAULT, IdentityMetrics
from identity.service_layer.ports import History, Profiles


class MergeRefused(ValueError):
    """The merge or unmerge is not possible in the customers' current state; the message says why."""


class CustomerMissing(LookupError):
    """A named customer does not exist in the caller's scope."""


async def _load(store: Profiles, scope: str, customer_id: str) -> Customer:
    found = await store.get(scope, customer_id)
    if found is None:
        raise CustomerMissing(f"customer {customer_id!r} not found")
    return found[0]


async def merge_customers(
    store: Profiles,
    history: History,
    *,
    scope: str,
    target_id: str,
    source_id: str,
    actor: str,
    reason: str,
    metrics: IdentityMetrics = DEFAULT,
) -> tuple[Customer, AuditRecord]:
    if target_id == source_id:
        raise MergeRefused("target_customer_id and source_customer_id must differ")
    target = await _load(store, scope, target_id)
    source = await _load(store, scope, source_id)
    for customer in (target, source):
        if customer.merged_into:
            raise MergeRefused(
                f"customer {customer.customer_id!r} is already merged into {customer.merged_into!r}"
            )
    # The source is marked first: a crash after this leaves a state an unmerge can undo.
    source = await store.update(scope, source_id, lambda c: replace(c, merged_into=target_id))
    for identifier in source.identifiers:
        await store.move(scope, identifier, source_id, target_id)
    target = await store.update(
        scope,
        target_id,
        lambda c: replace(
            c.with_identifiers(list(source.identifiers)),
            merged_from=(*[m for m in c.merged_from if m != source_id], source_id),
        ),
    )
    record = AuditRecord(
        audit_id=uuid.uuid4().hex,
        action=MERGE,
        actor=actor,
        at=time.time(),
        reason=reason,
        target_customer_id=target_id,
        source_customer_id=source_id,
        moved_identifiers=tuple(i.index_token() for i in source.identifiers),
    )
    await history.add_audit(target.tenant_id, target_id, record)
    await history.add_audit(target.tenant_id, source_id, record)
    metrics.merges.add(1, {"action": "merge"})
    return target, record


async def unmerge_customer(
    store: Profiles,
    history: History,
    *,
    scope: str,
    source_id: str,
    actor: str,
    reason: str,
    metrics: IdentityMetrics = DEFAULT,
) -> tuple[Customer, Customer, AuditRecord]:
    source = await _load(store, scope, source_id)
    if not source.merged_into:
        raise MergeRefused(f"customer {source_id!r} is not merged into another customer")
    target_id = source.merged_into
    for identifier in source.identifiers:
        await store.move(scope, identifier, target_id, source_id)
    target = await store.update(
        scope,
        target_id,
        lambda c: replace(
            c.without_identifiers(source.identifiers),
            merged_from=tuple(m for m in c.merged_from if m != source_id),
        ),
    )
    source = await store.update(scope, source_id, lambda c: replace(c, merged_into=""))
    record = AuditRecord(
        audit_id=uuid.uuid4().hex,
        action=UNMERGE,
        actor=actor,
        at=time.time(),
        reason=reason,
        target_customer_id=target_id,
        source_customer_id=source_id,
        moved_identifiers=tuple(i.index_token() for i in source.identifiers),
    )
    await history.add_audit(source.tenant_id, target_id, record)
    await history.add_audit(source.tenant_id, source_id, record)
    metrics.merges.add(1, {"action": "unmerge"})
    return source, target, record
