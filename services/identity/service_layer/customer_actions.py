"""Inbound `update_attributes` actions with target = customer: merge into the customer's profile.

The action names only the tenant and the customer id, not the brand, so the profile is looked
up in the tenant-wide scope first and then in each isolated brand's scope (customer ids are
random, so at most one scope holds it). A customer merged into another one is a pointer: the
attributes go to the customer it was merged into (followed a few hops). The merged attribute
map must stay within the profile limits (`check_attributes`: at most 100 entries and 16 KiB);
the change is written with optimistic concurrency, so a concurrent profile write is re-read
and merged again, never lost.

Merging sets values, so applying the same action twice leaves the same profile; the caller
still remembers applied action ids (ActionLedger) so a redelivery is not applied at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from identity.domain.customer import CUSTOMER_ID, Customer, InvalidAttributes, check_attributes
from identity.service_layer.ports import Profiles

#: Merge pointers followed from the named customer to the one that holds the profile now.
MAX_MERGE_HOPS = 5


class CustomerActionRefused(ValueError):
    """The action can never apply here (unknown customer, attributes over the limits...)."""


class CustomerErased(LookupError):
    """The customer was erased (right to be forgotten): the action no longer applies."""


@dataclass(frozen=True)
class AttributesMerged:
    customer: Customer
    #: Scope the profile lives in (`<tenant>` or `<tenant>.<brand>`).
    scope: str
    #: The customer the action named, when it was merged into `customer`.
    via: str = ""


async def merge_customer_attributes(
    store: Profiles, scopes: Sequence[str], customer_id: str, attributes: Mapping[str, str]
) -> AttributesMerged:
    """Merge `attributes` into the profile; CustomerActionRefused or CustomerErased when it cannot."""
    if not CUSTOMER_ID.match(customer_id):
        raise CustomerActionRefused(f"customer id {customer_id!r} is not 1-64 letters, digits, '-' or '_'")
    try:
        update = check_attributes(attributes)
    except InvalidAttributes as error:
        raise CustomerActionRefused(str(error)) from None
    scope, customer = await _locate(store, scopes, customer_id)
    target = customer
    for _ in range(MAX_MERGE_HOPS):
        if not target.merged_into:
            break
        found = await store.get(scope, target.merged_into)
        if found is None:
            raise CustomerActionRefused(
                f"customer {target.customer_id!r} was merged into {target.merged_into!r}, which is not stored"
            )
        target = found[0]
    else:
        raise CustomerActionRefused(f"customer {customer_id!r}: more than {MAX_MERGE_HOPS} merge hops")

    def change(current: Customer) -> Customer:
        return replace(current, attributes=check_attributes({**current.attributes, **update}))

    try:
        updated = await store.update(scope, target.customer_id, change)
    except InvalidAttributes as error:
        raise CustomerActionRefused(f"customer {target.customer_id!r}: merged {error}") from None
    except KeyError:
        raise CustomerActionRefused(f"customer {target.customer_id!r} disappeared while updating") from None
    via = customer_id if target.customer_id != customer_id else ""
    return AttributesMerged(updated, scope, via)


async def _locate(store: Profiles, scopes: Sequence[str], customer_id: str) -> tuple[str, Customer]:
    for scope in scopes:
        found = await store.get(scope, customer_id)
        if found is not None:
            return scope, found[0]
    for scope in scopes:
        if await store.has_tombstone(scope, customer_id):
            raise CustomerErased(f"customer {customer_id!r} was erased")
    raise CustomerActionRefused(f"customer {customer_id!r} is not known in this region")
