"""Legal holds on a customer or one contact: their records are copied to the region's legal-hold
store, where no retention removes them, until the hold is released.

What a hold keeps: every event of the held contacts (messages, transcripts, contact events),
the objects named after them (recordings, attachments) and, for a customer, their timeline and
audit records. The originals keep expiring on their own schedule; `forget_customer` refuses to
erase a person a hold covers.
"""

from __future__ import annotations

from dataclasses import replace

from ccmesh.retention_holds import HeldCopy, LegalHold, LegalHoldError, new_hold
from identity.service_layer.forget import contacts_of_entries
from identity.service_layer.ports import History, LegalHolds


async def place_legal_hold(
    holds: LegalHolds,
    history: History,
    *,
    tenant_id: str,
    history_bucket: str,
    customer_id: str,
    contact_id: str,
    reason: str,
    actor: str,
) -> LegalHold:
    hold = new_hold(tenant_id, customer_id=customer_id, contact_id=contact_id, reason=reason, placed_by=actor)
    copies: list[HeldCopy] = []
    if customer_id:
        contact_ids = await contacts_of_entries(history, await history.timeline_keys(tenant_id, customer_id))
        hold = replace(hold, contact_ids=tuple(sorted(contact_ids)))
        copies += await holds.bucket_entries(
            history_bucket, [f"tl.{tenant_id}.{customer_id}.>", f"au.{tenant_id}.{customer_id}.>"]
        )
    for held_contact in hold.contact_ids:
        copies += await holds.contact_events(tenant_id, held_contact)
    referenced = [
        name for held in hold.contact_ids for name in await holds.objects_of_contact(tenant_id, held)
    ]
    copies += await holds.objects_naming(
        [*hold.contact_ids, *([customer_id] if customer_id else []), *referenced]
    )
    return await holds.place(hold, copies)


async def release_legal_hold(holds: LegalHolds, *, tenant_id: str, hold_id: str) -> int:
    """Delete the hold's copies; how many there were. LegalHoldError when there is no such hold."""
    if not hold_id.strip():
        raise LegalHoldError("hold_id: required")
    return await holds.release(tenant_id, hold_id)
