"""ACD offers and answers: reserving an agent for a contact, accept, decline, complete, give back.

The routing pass that decides whom to offer is `routing.service_layer.acd_routing`.

How several routing instances never over-book an agent
------------------------------------------------------
All routing state lives in the region's `acd-<region>` KV bucket (see `routing.adapters.acd_store`);
an instance holds only a watched mirror of it and no state of its own, so any instance may route
any contact and a dead instance takes nothing with it.

An offer is two compare-and-set writes, in this order (a routing pass offers many contacts at
once: `offer_many` per agent, the agents' concurrently, each contact's two writes in turn):

1. the contact record `waiting -> offered(r, agent, deadline)` (r: a fresh reservation id),
   with the decision's explanation (what `ExplainDecision` tells); only one writer can win this
   transition for a given revision, so a contact is offered by at most one instance at a time;
2. the agent's ledger `reserve(r)`, which refuses when the agent would exceed its capacity on
   the channel (offered and accepted contacts both count). The write happens only if the ledger's
   revision is the one the capacity check read; a concurrent reservation changes the revision,
   forcing a re-read and a fresh capacity check. Hence no interleaving of any number of instances
   can put more contacts on an agent than its capacity.

Step 2 also stages the `ContactOffered` announcing the hold (`ccmesh.outbox`): the instance
publishes it right after, and should it die first, a sweeper of any instance publishes it a
sweep later; the event's fixed id makes the stream drop the second copy.

If step 2 refuses, the contact goes back to waiting (`requeue(r)`); if the instance dies between
the steps, the contact stays `offered(r)` with a deadline and the sweeper of any instance returns
it to the queue when the deadline passes. Every transition names `r`, so a late accept, a
duplicated timeout or a second sweeper fails instead of acting twice. `accept(r)` first moves the
contact `offered(r) -> assigned(r)` and then the ledger; a sweeper that finds the contact assigned
finishes the ledger side instead of releasing it, so an interrupted accept is never lost.
Accept and complete are idempotent for their own reservation: a caller whose reply was lost (a
timeout while a bucket or the stream elects a leader) asks again and gets the same result, the
half not yet written is finished, and the announcement is published again (the stream drops a
copy it has by the event's fixed id). Naming the contact lets a repeat succeed even after the
ledger let the reservation go (a completed contact's slot is freed).
Re-queued contacts keep their `enqueued_at`, i.e. their original position. A contact being
handed to another region (`transferring`, see `routing.service_layer.acd_handover`) is not
waiting, so no instance offers it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import (
    CallbackPlaced,
    ContactAccepted,
    ContactCompleted,
    ContactOffered,
    ContactRequeued,
    OfferDeclined,
    OfferReturned,
    RoutingEvent,
)
from routing.domain.matching import Decision
from routing.domain.reservations import AgentLedger, Held, ReservationError, ReservationState
from routing.service_layer.acd_context import AcdContext


def decision_record(decision: Decision, at: float) -> dict[str, Any]:
    return {
        "contact_id": decision.contact_id,
        "queue": decision.queue,
        "agent_id": decision.agent_id,
        "rule": decision.rule,
        "ring": decision.ring,
        "language_rule": decision.language_rule,
        "language_ring": decision.language_ring,
        "at": at,
        "candidates": [
            {"agent_id": c.agent_id, "score": c.score, "rejected": c.rejected} for c in decision.candidates
        ],
    }


class Offers:
    def __init__(self, context: AcdContext) -> None:
        self._ctx = context

    async def offer(
        self, tenant: str, record: ContactRecord, decision: Decision, now: float
    ) -> AgentLedger | None:
        """Reserve the decided agent for the contact; the agent's ledger after it, or None when
        another instance got there first or the agent filled up meanwhile (nothing changed)."""
        ctx = self._ctx
        agent_id = decision.agent_id
        reservation_id = uuid.uuid4().hex
        # From the time of writing, not of deciding: a large pass takes a while to decide.
        deadline = max(now, ctx.now()) + ctx.settings.offer_timeout_seconds
        contact = record.contact
        # The explanation rides with the offer's write of the contact (no write of its own);
        # should the hold fail, the contact goes back with the explanation it had before.
        explanation = orjson.dumps(decision_record(decision, now)).decode()
        explained_before: list[str] = []

        def make_offer(old: ContactRecord | None) -> ContactRecord:
            explained_before[:] = [must(old).explanation]
            return contact_rules.offer(must(old), reservation_id, agent_id, deadline, explanation)

        try:
            offered = await ctx.store.update_contact(tenant, contact.contact_id, make_offer)
        except (ReservationError, UnknownKey, KVError):
            return None  # another instance got there first
        held = Held(reservation_id, contact.contact_id, contact.channel, ReservationState.OFFERED, deadline)
        announced = ContactOffered(tenant, offered, decision.rule)
        try:
            # The hold and its announcement are one write: should this instance die before it
            # publishes, a sweeper sends the offer within seconds, not after the offer timeout.
            ledger = await ctx.store.update_ledger(
                tenant,
                agent_id,
                lambda old: ledger_rules.reserve(old, held),
                announce=lambda _old, _new: (announced,),
            )
        except (ReservationError, UnknownKey, KVError):
            # The agent filled up since the view saw it: the contact goes straight back.
            with contextlib.suppress(ReservationError, UnknownKey, KVError):
                await ctx.store.update_contact(
                    tenant,
                    contact.contact_id,
                    lambda old: replace(
                        contact_rules.requeue(must(old), reservation_id, passed=False),
                        explanation=explained_before[-1],
                    ),
                )
            return None
        await ctx.events(announced)
        return ledger

    async def offer_many(
        self,
        tenant: str,
        agent_id: str,
        picks: Sequence[tuple[ContactRecord, Decision]],
        now: float,
    ) -> tuple[AgentLedger | None, list[ContactRecord]]:
        """Reserve one agent for several contacts (each decided for `agent_id`), all at once; a
        routing pass runs the agents' `offer_many` concurrently. The agent's ledger after the
        reservations (None: none was made) and the contacts offered.

        Each contact's two writes follow each other at once (see the module's design note): an
        offer is seen as soon as the contact's record says so, and its answer needs the hold.
        The contacts' writes go concurrently, and their holds share the ledger's writes (the
        store writes the changes of one agent that meet in flight as one revision, each hold
        checked against the capacity the ones before it left): a pass costs an agent one
        ledger write, not one per contact.
        """
        results = await asyncio.gather(
            *(self.offer(tenant, record, decision, now) for record, decision in picks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        offered = [record for (record, _), ledger in zip(picks, results, strict=True) if ledger is not None]
        ledgers = [ledger for ledger in results if isinstance(ledger, AgentLedger)]
        # The ledger written last holds the most of these reservations.
        return max(ledgers, key=lambda ledger: len(ledger.held), default=None), offered

    async def _held(self, tenant: str, agent_id: str, reservation_id: str) -> Held:
        """The agent's hold of `reservation_id`. The view's ledger may lag, but a hold it shows
        names the right contact (a reservation's contact never changes, and the writes that
        follow check the rest), so the store is read only when the view does not show it."""
        seen = self._ctx.mirror.agents.get((tenant, agent_id))
        if seen is not None:
            with contextlib.suppress(ReservationError):
                return seen.find(reservation_id)
        return (await self._ctx.store.get_ledger(tenant, agent_id)).find(reservation_id)

    async def _answered_before(
        self,
        tenant: str,
        agent_id: str,
        reservation_id: str,
        contact_id: str,
        status: ContactStatus,
        refusal: ReservationError,
    ) -> ContactRecord:
        """The contact of an answer applied already whose ledger side let the reservation go
        (a completed contact's slot is freed): a retry after a lost reply gets the same result.
        Raises the ledger's `refusal` when the contact does not show that answer."""
        if not contact_id:
            raise refusal
        try:
            record = await self._record(tenant, contact_id)
        except UnknownKey:
            raise refusal from None
        if (record.status, record.reservation_id, record.agent_id) != (status, reservation_id, agent_id):
            raise refusal
        return record

    async def accept(
        self, tenant: str, agent_id: str, reservation_id: str, contact_id: str = ""
    ) -> ContactRecord:
        """Accept an offer. Idempotent: a retry of an accept that was applied (its reply lost
        to a timeout while the bucket or the stream changed leader) returns the same assigned
        contact and announces it again, which the stream drops as a duplicate."""
        store = self._ctx.store
        try:
            held = await self._held(tenant, agent_id, reservation_id)
        except ReservationError as refusal:
            record = await self._answered_before(
                tenant, agent_id, reservation_id, contact_id, ContactStatus.ASSIGNED, refusal
            )
            for event in accepted_events(tenant, record):
                await self._ctx.events(event)
            return record
        now = self._ctx.now()
        record = await store.update_contact(
            tenant, held.contact_id, lambda old: assign_once(must(old), reservation_id, now)
        )

        def accept_once(ledger: AgentLedger) -> AgentLedger:
            if ledger.find(reservation_id).state is ReservationState.ACCEPTED:
                return ledger  # this accept was applied by an earlier try
            return ledger_rules.accept(ledger, reservation_id)

        # Staged and then published as the same objects (converted to the stream's form once).
        accepted = accepted_events(tenant, record)

        def announce(old: AgentLedger | None, _new: AgentLedger) -> tuple[RoutingEvent, ...]:
            # An earlier try that accepted the hold staged these with it already.
            if old is not None and old.find(reservation_id).state is ReservationState.ACCEPTED:
                return ()
            return accepted

        try:
            # The accepted hold and its announcement are one write (see `offer`).
            await store.update_ledger(tenant, agent_id, accept_once, announce=announce)
        except ReservationError:
            # The slot went away meanwhile (the agent went offline): the contact goes back.
            with contextlib.suppress(ReservationError):
                await store.update_contact(
                    tenant, held.contact_id, lambda old: contact_rules.unassign(must(old), reservation_id)
                )
            raise
        for event in accepted:
            await self._ctx.events(event)
        return record

    async def _record(self, tenant: str, contact_id: str) -> ContactRecord:
        # An unchanged record is not written again: this is a read through the same port.
        return await self._ctx.store.update_contact(tenant, contact_id, must)

    async def decline(self, tenant: str, agent_id: str, reservation_id: str) -> ContactRecord:
        # From the store: a decline of a hold that is gone must fail, which the view may not know.
        held = (await self._ctx.store.get_ledger(tenant, agent_id)).find(reservation_id)
        return await self.give_back(tenant, agent_id, held.contact_id, reservation_id, OfferDeclined)

    async def complete(
        self, tenant: str, agent_id: str, reservation_id: str, contact_id: str = ""
    ) -> ContactRecord:
        """Close an accepted contact and free the agent's slot. Idempotent: a retry of a
        complete that was applied, wholly or only its contact side, finishes what is left and
        returns the closed contact; its `ContactCompleted` is announced either way (staged with
        the close, and published again, which the stream drops as a duplicate)."""
        store = self._ctx.store
        try:
            held = await self._held(tenant, agent_id, reservation_id)
        except ReservationError as refusal:
            record = await self._answered_before(
                tenant, agent_id, reservation_id, contact_id, ContactStatus.CLOSED, refusal
            )
            await self._ctx.events(ContactCompleted(tenant, record))
            return record
        now = self._ctx.now()
        # The completion staged by the write's last try, published as that same object.
        staged: list[ContactCompleted] = []

        def announce(old: ContactRecord | None, new: ContactRecord) -> tuple[RoutingEvent, ...]:
            staged.clear()
            # An earlier try that closed the contact staged this with the close already.
            if old is not None and old.status is ContactStatus.CLOSED:
                return ()
            staged.append(ContactCompleted(tenant, new))
            return tuple(staged)

        record = await store.update_contact(
            tenant,
            held.contact_id,
            lambda old: close_once(must(old), reservation_id, now),
            announce=announce,
        )

        def release(ledger: AgentLedger) -> AgentLedger:
            try:
                return ledger_rules.release(ledger, reservation_id, now)
            except ReservationError:
                # The contact is closed already (written first), so any instance's sweeper may
                # free the slot before we get here: then the work is done, not failed.
                return ledger

        await store.update_ledger(tenant, agent_id, release)
        completed = staged[0] if staged and staged[0].record is record else ContactCompleted(tenant, record)
        await self._ctx.events(completed)
        return record

    async def give_back(
        self,
        tenant: str,
        agent_id: str,
        contact_id: str,
        reservation_id: str,
        returned: type[OfferReturned],
    ) -> ContactRecord:
        """Re-queue an offered contact (declined, timed out, agent offline) and free the slot.

        Safe to run from several instances at once: only one contact transition succeeds; the
        ledger side releases the slot, or completes an accept that won the race. `returned` is
        the event announcing it; an agent going offline did not pass on the contact.
        """
        store = self._ctx.store
        now = self._ctx.now()
        passed = returned is not ContactRequeued
        requeued = True
        try:
            record = await store.update_contact(
                tenant,
                contact_id,
                lambda old: contact_rules.requeue(must(old), reservation_id, passed=passed),
                announce=lambda _old, new: (returned(tenant, new, agent_id, reservation_id),),
            )
        except ReservationError:
            requeued = False
            record = await store.update_contact(tenant, contact_id, must)

        def settle(ledger: AgentLedger) -> AgentLedger:
            try:
                held = ledger.find(reservation_id)
            except ReservationError:
                return ledger
            if held.state is not ReservationState.OFFERED:
                return ledger
            if record.status is ContactStatus.ASSIGNED and record.reservation_id == reservation_id:
                return ledger_rules.accept(ledger, reservation_id)
            return ledger_rules.release(ledger, reservation_id, now)

        with contextlib.suppress(UnknownKey):
            await store.update_ledger(tenant, agent_id, settle)
        if requeued:
            await self._ctx.events(returned(tenant, record, agent_id, reservation_id))
        return record


def accepted_events(tenant: str, record: ContactRecord) -> tuple[RoutingEvent, ...]:
    """What announces an accepted offer; a call-back request's agent is free for the call, so
    the call is placed at once."""
    accepted: tuple[RoutingEvent, ...] = (ContactAccepted(tenant, record),)
    if record.closed_action == "callback":
        return (*accepted, CallbackPlaced(tenant, record))
    return accepted


def assign_once(record: ContactRecord, reservation_id: str, now: float) -> ContactRecord:
    """`assign`, or the record unchanged when this reservation's accept is in it already."""
    if record.status is ContactStatus.ASSIGNED and record.reservation_id == reservation_id:
        return record
    return contact_rules.assign(record, reservation_id, now)


def close_once(record: ContactRecord, reservation_id: str, now: float) -> ContactRecord:
    """`close`, or the record unchanged when this reservation closed it already."""
    if record.status is ContactStatus.CLOSED and record.reservation_id == reservation_id:
        return record
    return contact_rules.close(record, reservation_id, now)


def must(record: ContactRecord | None) -> ContactRecord:
    if record is None:
        raise UnknownKey("unknown contact")
    return record
