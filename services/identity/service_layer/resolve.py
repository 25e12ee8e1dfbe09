"""Resolve a set of channel identifiers to one customer, creating the customer if none matches.

The first identifier (in the caller's order) that already has an owner decides the customer;
identifiers nobody owns yet are attached to that customer. Identifiers owned by different
customers are NOT merged here: merging is an explicit, audited operation.
"""

from __future__ import annotations

import time
import uuid

from identity.adapters.profile_store import ProfileStore
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier

_ATTEMPTS = 5


class ResolveConflict(RuntimeError):
    """Concurrent writers kept changing the same identifiers; the caller may retry."""


async def resolve_customer(
    store: ProfileStore, *, tenant_id: str, scope: str, region: str, identifiers: list[Identifier]
) -> tuple[Customer, bool]:
    if not identifiers:
        raise ValueError("at least one identifier is required")
    unique = list(dict.fromkeys(identifiers))
    for _ in range(_ATTEMPTS):
        owners = {identifier: await store.owner(scope, identifier) for identifier in unique}
        matched = [owner for owner in owners.values() if owner]
        if not matched:
            created = await _create(store, tenant_id, scope, region, unique)
            if created is not None:
                return created, True
            continue  # someone claimed one of the identifiers meanwhile: resolve again
        customer_id = matched[0]
        found = await store.get(scope, customer_id)
        customer = found[0] if found else _repair(customer_id, tenant_id, scope, region, owners)
        if found is None:
            # The owner's profile may be in flight rather than lost: merge, never overwrite or fail.
            customer, _ = await store.add_identifiers(customer, list(customer.identifiers))
        unclaimed = [identifier for identifier, owner in owners.items() if owner is None]
        claimed = [
            identifier for identifier in unclaimed if await store.claim(scope, identifier, customer_id)
        ]
        if claimed:
            customer, _ = await store.add_identifiers(customer, claimed)
        if len(claimed) == len(unclaimed):
            return customer, False
    raise ResolveConflict(f"identifiers kept changing owner during {_ATTEMPTS} attempts")


async def _create(
    store: ProfileStore, tenant_id: str, scope: str, region: str, identifiers: list[Identifier]
) -> Customer | None:
    customer = Customer(
        customer_id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        scope=scope,
        home_region=region,
        identifiers=tuple(identifiers),
        created_at=time.time(),
    )
    claimed: list[Identifier] = []
    # One claim order for every creator: two creating the same customer collide on the first
    # claim, instead of each taking one identifier, rolling back and colliding again forever.
    for identifier in sorted(identifiers, key=Identifier.index_token):
        if not await store.claim(scope, identifier, customer.customer_id):
            for done in claimed:
                await store.release(scope, done)
            return None
        claimed.append(identifier)
    # A concurrent resolver may already have rebuilt this profile from our claims: merge into it.
    customer, _ = await store.add_identifiers(customer, list(customer.identifiers))
    return customer


def _repair(
    customer_id: str, tenant_id: str, scope: str, region: str, owners: dict[Identifier, str | None]
) -> Customer:
    """An index points at a profile that was never written (a writer died in between): rebuild it."""
    return Customer(
        customer_id=customer_id,
        tenant_id=tenant_id,
        scope=scope,
        home_region=region,
        identifiers=tuple(i for i, owner in owners.items() if owner == customer_id),
        created_at=time.time(),
    )
