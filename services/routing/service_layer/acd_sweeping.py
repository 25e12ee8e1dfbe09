"""The sweeper: what nobody finished in time is finished by any instance.

Each pass re-queues offers past their deadline (the contact's, and the ledger's own holds) and
offers whose agent's hold is still missing a grace after them (cut short between their two
writes), resumes hand-overs to other regions left unanswered, frees slots held for contacts
that moved on, and sets agents whose heartbeat lapsed offline. It finds them in the working
set's heaps and dirty set (`routing.domain.working_set`), never by walking every contact or
agent. Every step is a compare-and-set transition that names its reservation, so several
instances sweeping at once change each thing once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import OfferTimedOut
from routing.domain.reservations import AgentLedger, ReservationError, ReservationState
from routing.domain.working_set import Deadline, DeadlineKind
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.acd_offers import Offers, must
from routing.service_layer.acd_presence import Presence

_LOST_RACE = (ReservationError, UnknownKey, KVError)


#: How long after an offer its agent's hold may still be missing before the offer is taken as
#: cut short (its writer died between the contact's write and the ledger's): the two writes
#: follow each other at once, so this covers a slow writer and a lagging view, not a crash.
HOLD_GRACE_SECONDS = 2.0


class Sweeper:
    def __init__(
        self,
        context: AcdContext,
        offers: Offers,
        presence: Presence,
        hand_over: HandOver | None = None,
        *,
        hold_grace_seconds: float = HOLD_GRACE_SECONDS,
    ) -> None:
        self._ctx = context
        self._offers = offers
        self._presence = presence
        self._hand_over = hand_over
        self._hold_grace = hold_grace_seconds

    async def sweep(self) -> int:
        """Re-queue offers past their deadline, resume hand-overs past theirs, free orphaned
        slots and set agents with lapsed heartbeats offline; how many things it changed.

        Only what can be due is looked at: the working set's deadline and heartbeat heaps and
        the agents whose ledger or held contacts changed since the last sweep, so an idle region
        costs nothing per contact or agent, however many passed before.
        """
        ctx = self._ctx
        view = ctx.mirror
        now = ctx.now()
        done = 0
        due = view.due(now)
        for n, deadline in enumerate(due):
            try:
                done += await self._expire(deadline, now)
            except _LOST_RACE:
                # Changed meanwhile (the view brings the change) or a write failed: look again.
                view.schedule(replace(deadline, at=now + ctx.settings.tick_seconds))
            except BaseException:
                # Popped from the heap: put back what this sweep did not finish, then fail.
                for left in due[n:]:
                    view.schedule(replace(left, at=now + ctx.settings.tick_seconds))
                raise
        dirty = view.take_dirty_agents()
        for n, (tenant, agent_id) in enumerate(dirty):
            ledger = view.agents.get((tenant, agent_id))
            if ledger is None or not ledger.held:
                continue
            try:
                done += await self._free_orphans(tenant, agent_id, ledger, now)
            except BaseException:
                view.dirty_agents.update(dirty[n:])
                raise
        timeout = ctx.settings.heartbeat_timeout_seconds
        for tenant, agent_id in view.heartbeats_before(now - timeout):
            ledger = view.agents.get((tenant, agent_id))
            if ledger is None or ledger.state is AgentState.OFFLINE:
                continue
            if not ledger_rules.heartbeat_lapsed(ledger, now, timeout):
                view.watch_heartbeat(tenant, agent_id, ledger.last_heartbeat)
                continue
            try:
                await self._presence.set_agent_state(tenant, agent_id, AgentState.OFFLINE)
            except _LOST_RACE:
                view.watch_heartbeat(tenant, agent_id, ledger.last_heartbeat)  # the next sweep looks again
            except BaseException:
                view.watch_heartbeat(tenant, agent_id, ledger.last_heartbeat)
                raise
        return done

    async def _expire(self, deadline: Deadline, now: float) -> int:
        """Act on a deadline that passed, if its record still says so (1), else nothing (0)."""
        view = self._ctx.mirror
        tenant, name, reservation_id = deadline.tenant, deadline.name, deadline.reservation_id
        if deadline.kind is DeadlineKind.HOLD:
            ledger = view.agents.get((tenant, name))
            held = (
                next((h for h in ledger.held if h.reservation_id == reservation_id), None) if ledger else None
            )
            if held is None or held.state is not ReservationState.OFFERED or held.deadline > now:
                return 0
            record = view.contacts.get((tenant, held.contact_id))
            offered = record is not None and record.status is ContactStatus.OFFERED
            if offered and record is not None and record.reservation_id == reservation_id:
                return 0  # the contact's own deadline (the same time) gives it back
            await self._offers.give_back(tenant, name, held.contact_id, reservation_id, OfferTimedOut)
            return 1
        record = view.contacts.get((tenant, name))
        if deadline.kind is DeadlineKind.OFFER_HOLD:
            return await self._check_hold(deadline, record, now)
        if record is None or record.reservation_id != reservation_id or record.deadline > now:
            return 0
        if deadline.kind is DeadlineKind.OFFER and record.status is ContactStatus.OFFERED:
            await self._offers.give_back(tenant, record.agent_id, name, reservation_id, OfferTimedOut)
            return 1
        transferring = deadline.kind is DeadlineKind.TRANSFER and record.status is ContactStatus.TRANSFERRING
        if transferring and self._hand_over is not None:
            return int(await self._hand_over.resume(tenant, record, now) is not None)
        return 0

    async def _check_hold(self, deadline: Deadline, record: ContactRecord | None, now: float) -> int:
        """Re-queue an offered contact whose agent holds no hold for it a grace after the offer
        (its writer died before the ledger's write), instead of leaving it to the offer timeout.

        Nothing announced that offer (its ContactOffered is staged with the hold), so nothing
        announces its end either, as when the agent is found full at the offer; the agent did
        not pass on the contact, which keeps its place in the queue.
        """
        ctx = self._ctx
        tenant, contact_id, reservation_id = deadline.tenant, deadline.name, deadline.reservation_id
        if record is None or record.status is not ContactStatus.OFFERED:
            return 0
        if record.reservation_id != reservation_id:
            return 0
        check_at = record.deadline - ctx.settings.offer_timeout_seconds + self._hold_grace
        if check_at > now:
            ctx.mirror.schedule(replace(deadline, at=check_at))
            return 0
        agent = record.agent_id
        if _holds(ctx.mirror.agents.get((tenant, agent)), reservation_id):
            return 0
        # The view may lag behind the ledger: the stored one decides.
        try:
            stored = await ctx.store.get_ledger(tenant, agent)
        except UnknownKey:
            stored = None
        if _holds(stored, reservation_id):
            return 0
        await ctx.store.update_contact(
            tenant, contact_id, lambda old: contact_rules.requeue(must(old), reservation_id, passed=False)
        )
        return 1

    async def _free_orphans(self, tenant: str, agent_id: str, ledger: AgentLedger, now: float) -> int:
        """Free slots held for contacts no longer offered or assigned under them (an instance
        stopped between a transfer's or a close's two writes).

        Safe on the working set: every flow writes the contact before the ledger and the watch
        delivers in write order, so a mirrored hold's contact is at least as new as the hold; a
        hold whose contact is not live there any more (closed, transferred, deleted) is for a
        contact that moved on, and a reservation id is never reused, so it never comes back.
        """
        freed = 0
        view = self._ctx.mirror
        for held in ledger.held:
            record = view.contacts.get((tenant, held.contact_id))
            if record is not None and (
                record.reservation_id == held.reservation_id
                and record.status in (ContactStatus.OFFERED, ContactStatus.ASSIGNED)
            ):
                continue
            closed = view.record(tenant, held.contact_id) if record is None else None
            if self._closing(closed, held.reservation_id, now):
                # Closed under this hold a moment ago: the close's own second write frees the slot
                # (a complete, a hang-up); looked at again next sweep, in case it never comes.
                view.dirty_agents.add((tenant, agent_id))
                continue
            try:
                await self._ctx.store.update_ledger(tenant, agent_id, _releaser(held.reservation_id, now))
                freed += 1
            except ReservationError:
                pass  # freed meanwhile (by the flow that left it, or another sweeper)
            except (UnknownKey, KVError):
                self._ctx.mirror.dirty_agents.add((tenant, agent_id))  # looked at again next sweep
        return freed

    def _closing(self, record: ContactRecord | None, reservation_id: str, now: float) -> bool:
        """Whether `record` was closed under `reservation_id` within the hold grace."""
        return (
            record is not None
            and record.status is ContactStatus.CLOSED
            and record.reservation_id == reservation_id
            and now - record.closed_at < self._hold_grace
        )


def _releaser(reservation_id: str, now: float) -> Callable[[AgentLedger], AgentLedger]:
    return lambda ledger: ledger_rules.release(ledger, reservation_id, now)


def _holds(ledger: AgentLedger | None, reservation_id: str) -> bool:
    return ledger is not None and any(h.reservation_id == reservation_id for h in ledger.held)
