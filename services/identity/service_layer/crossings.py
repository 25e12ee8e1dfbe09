"""Personal or pseudonymous data leaving the region: answering another region, recording views.

Every crossing is written twice, as a crossing record of the tenant (ListCrossings) and as an
audit record of the customer, so the customer's audit trail shows where their data went. The
tenant's residency policy decides what another region may learn of a customer homed here:
the profile (personal), a pseudonymous reference only, or only that the customer lives here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from ccmesh.policy_violations import PolicyCheck
from ccpolicy import Action, Situation
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


def profile_refusal_by(
    policy: PolicyCheck | None, *, tenant_id: str, brand_id: str, to_region: str, actor: str
) -> Callable[[str], Awaitable[str]] | None:
    """The `profile_refusal` of `resolve_from_region` by this region's compliance rules: a
    profile is personal data that cannot be redacted, so a rule that lets data leave only
    redacted refuses it (published as PolicyViolation)."""
    if policy is None:
        return None

    async def refusal(customer_id: str) -> str:
        decision = await policy.judge(
            Action.LEAVE_REGION,
            Situation(region=policy.region, pii_redacted=False),
            tenant_id=tenant_id,
            brand_id=brand_id,
            # No contact: the customer's crossings (a subject's last token is never empty).
            contact_id=f"crossing-{customer_id}",
            customer_id=customer_id,
            actor=actor,
            occurrence=f"{to_region}:{uuid.uuid4().hex}",
        )
        return decision.message()

    return refusal


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
    profile_refusal: Callable[[str], Awaitable[str]] | None = None,
) -> RegionAnswer:
    """The customer homed here that the identifiers name, as far as the policy lets it cross.

    `profile_refusal(customer_id)`, asked only when the residency policy would send the profile,
    is the region's compliance rules' refusal of it ("" allowed): a refused profile stays here
    and only the pseudonymous reference crosses (the crossing record says why)."""
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
    refusal = ""
    if kind is CrossingKind.PERSONAL and profile_refusal is not None:
        refusal = await profile_refusal(customer.customer_id)
        if refusal:
            kind = CrossingKind.PSEUDONYMOUS
    crossing = await record_crossing(
        history,
        tenant_id=tenant_id,
        customer_id=customer.customer_id,
        from_region=region,
        to_region=requesting_region,
        kind=kind,
        actor=actor,
        note=refusal,
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
