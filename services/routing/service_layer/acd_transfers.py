"""An agent's transfer: the contact it holds goes to another queue and its slot is freed.

Two compare-and-set writes, in the order every ACD change uses (contact first, then ledger):

1. the contact record `assigned(r, agent) -> waiting` in the target queue (`transfer_queue`);
   the transition checks that `agent` holds it under some reservation `r`, so of two racing
   transfers (or a transfer racing a complete) exactly one wins and the other changes nothing;
2. the agent's ledger releases `r`, as a complete does, without closing the contact.

If the instance dies between the steps the contact already waits in its new queue and the
ledger still holds `r`; the sweeper of any instance frees holds whose contact no longer is
offered or assigned under them (`acd_sweeping`), so the agent's slot is not lost.

The contact is a new arrival in the target queue: its arrival time is the transfer's, so the
target's service level and its priority aging count from then; its priority is kept (not reset
to the default) unless the caller gives one, as are channel, skills and language.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord
from routing.domain.events import ContactQueued, ContactTransferred, RoutingEvent
from routing.domain.reservations import AgentLedger, ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.ports import AcdRecords, EventSink


@dataclass(frozen=True)
class Transfer:
    tenant: str
    contact_id: str
    agent_id: str
    queue: str
    reason: str = ""
    #: None: the contact keeps its own.
    required_skills: frozenset[str] | None = None
    language: str | None = None
    priority: int | None = None


class Transfers:
    def __init__(self, context: AcdContext) -> None:
        self._ctx = context

    async def transfer(self, transfer: Transfer) -> tuple[ContactRecord, str]:
        """Move a contact its agent holds to another queue; the record as it now waits and the
        queue it left. Refused without any change: an unknown queue or skill (`AcdInputError`),
        a closed queue without a queue to take its contacts or a contact that agent does not
        hold (`ReservationError`)."""
        ctx = self._ctx
        tenant = transfer.tenant
        if not transfer.queue:
            raise AcdInputError("queue", "is required")
        queue = await ctx.known_queue(tenant, transfer.queue)
        if queue.hours is not None and not queue.hours.is_open(ctx.now_utc()):
            target = queue.hours.closed_target_queue
            if queue.hours.closed_action != "queue" or await ctx.queue(tenant, target) is None:
                raise ReservationError(f"queue {queue.name!r} is closed now ({queue.hours.closed_action})")
            transfer = replace(transfer, queue=target)
        ctx.check_skills(tenant, transfer.required_skills)
        return await transfer_contact(ctx.store, ctx.events, transfer, ctx.now())


async def transfer_contact(
    store: AcdRecords, events: EventSink, transfer: Transfer, now: float
) -> tuple[ContactRecord, str]:
    """Move the held contact; the record as it now waits, and the queue it came from."""
    before: list[ContactRecord] = []

    def change(old: ContactRecord | None) -> ContactRecord:
        if old is None:
            raise UnknownKey(f"unknown contact {transfer.contact_id!r}")
        before.append(old)
        return contact_rules.transfer_queue(
            old,
            transfer.agent_id,
            transfer.queue,
            now,
            required_skills=transfer.required_skills,
            language=transfer.language,
            priority=transfer.priority,
        )

    reason = transfer.reason or "agent_transfer"

    def announce(_old: ContactRecord | None, new: ContactRecord) -> tuple[RoutingEvent, ...]:
        # `change` has just read the record it moved (a missing one raised before this).
        return transferred_events(transfer.tenant, new, before[-1].contact.queue, reason)

    # The move and what announces it are one write: a crash before the publish below delays
    # the events by a sweep (`ccmesh.outbox`) instead of leaving the new queue unannounced.
    record = await store.update_contact(transfer.tenant, transfer.contact_id, change, announce=announce)
    held_under = before[-1].reservation_id
    from_queue = before[-1].contact.queue

    def free_slot(ledger: AgentLedger) -> AgentLedger:
        try:
            return ledger_rules.release(ledger, held_under, now)
        except ReservationError:
            return ledger  # freed already (a sweeper, or a retried call)

    with contextlib.suppress(UnknownKey):
        await store.update_ledger(transfer.tenant, transfer.agent_id, free_slot)
    for event in transferred_events(transfer.tenant, record, from_queue, reason):
        await events(event)
    return record, from_queue


def transferred_events(
    tenant: str, record: ContactRecord, from_queue: str, reason: str
) -> tuple[RoutingEvent, ...]:
    """What announces a transfer: the contact left `from_queue`, and it waits in its new one."""
    return (ContactTransferred(tenant, record, from_queue, reason), ContactQueued(tenant, record))
