"""Personal or pseudonymous data leaving the region: answering another region, recording views.

Every crossing is written twice, as a crossing record of the tenant (ListCrossings) and as an
audit record of the customer, so the customer's audit trail shows where their data went. The
tenant's residency policy decides what another region may learn of a customer homed here:
the profile (personal), a pseudonymous reference only, or only that the customer lives here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from identity.domain.audit import CROSSING, AuditRecord, CrossingRecord
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier
from identity.domain.residency import CrossingKind, crossing_kind
from identity.service_layer.ports import History, Profiles, References


class NoCustomerHere(LookupError):
    """None of the identifiers belongs to a customer of the scope in this region."""


@dataclass(frozen=True)
class RegionAnswer:
    """What this (home) region tells the region that asked."""

    kind: CrossingKind
    #: The profile and its revision: only when the policy lets personal data cross.
    customer: Customer | None
    revision: int
    #: A pseudonymous reference to the customer; "" when the policy lets nothing cross.
    reference: str
    crossing: CrossingRecord


async def record_crossing(
    history: History,
    *,
    tenant_id: str,
    customer_id: str,
    from_region: str,
    to_region: str,
    kind: CrossingKind,
    actor: str,
    note: str = "",
) -> CrossingRecord:
    """Write the crossing and the customer's audit record of it."""
    crossing = CrossingRecord(
        crossing_id=uuid.uuid4().hex,
        customer_id=customer_id,
        from_region=from_region,
        to_region=to_region,
        kind=str(kind),
        actor=actor,
        at=time.time(),
    )
    await history.add_crossing(tenant_id, crossing)
    reason = f"{kind} to {to_region}" + (f": {note[:200]}" if note else "")
    await history.add_audit(
        tenant_id, customer_id, AuditRecord(uuid.uuid4().hex, CROSSING, actor, crossing.at, reason, "", "")
    )
    return crossing


async def resolve_from_region(
    store: Profiles,
    history: History,
    references: References,
    *,
    tenant_id: str,
    scope: str,
    region: str,
    identifiers: Sequence[Identifier],
    requesting_region: str,
    actor: str,
    personal_data_regions: Collection[str],
    pseudonymous_regions: Collection[str],
) -> RegionAnswer:
    """The customer homed here that the identifiers name, as far as the policy lets it cross."""
    owner = None
    for identifier in identifiers:
        owner = await store.owner(scope, identifier)
        if owner:
            break
    found = await store.get(scope, owner) if owner else None
    if found is None:
        raise NoCustomerHere(f"no customer of tenant {tenant_id!r} matches here")
    customer, revision = found
    kind = crossing_kind(requesting_region, personal_data_regions, pseudonymous_regions)
    crossing = await record_crossing(
        history,
        tenant_id=tenant_id,
        customer_id=customer.customer_id,
        from_region=region,
        to_region=requesting_region,
        kind=kind,
        actor=actor,
    )
    reference = (
        references.reference(tenant_id, region, customer.customer_id) if kind is not CrossingKind.NONE else ""
    )
    personal = kind is CrossingKind.PERSONAL
    return RegionAnswer(
        kind=kind,
        customer=customer if personal else None,
        revision=revision if personal else 0,
        reference=reference,
        crossing=crossing,
    )
