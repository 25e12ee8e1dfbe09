"""ACD offers and answers: the routing pass, reservations, accept/decline/complete (one instance).

How several routing instances never over-book an agent
------------------------------------------------------
All routing state lives in the region's `acd-<region>` KV bucket (see `routing.adapters.acd_store`);
an instance holds only a watched mirror of it and no state of its own, so any instance may route
any contact and a dead instance takes nothing with it.

An offer is two compare-and-set writes, in this order:

1. the contact record `waiting -> offered(r, agent, deadline)` (r: a fresh reservation id);
   only one writer can win this transition for a given revision, so a contact is offered by at
   most one instance at a time;
2. the agent's ledger `reserve(r)`, which refuses when the agent would exceed its capacity on
   the channel (offered and accepted contacts both count). The write happens only if the ledger's
   revision is the one the capacity check read; a concurrent reservation changes the revision,
   forcing a re-read and a fresh capacity check. Hence no interleaving of any number of instances
   can put more contacts on an agent than its capacity.

If step 2 refuses, the contact goes back to waiting (`requeue(r)`); if the instance dies between
the steps, the contact stays `offered(r)` with a deadline and the sweeper of any instance returns
it to the queue when the deadline passes. Every transition names `r`, so a late accept, a
duplicated timeout or a second sweeper fails instead of acting twice. `accept(r)` first moves the
contact `offered(r) -> assigned(r)` and then the ledger; a sweeper that finds the contact assigned
finishes the ledger side instead of releasing it, so an interrupted accept is never lost.
Re-queued contacts keep their `enqueued_at`, i.e. their original position. A contact being
handed to another region (`transferring`, see `routing.service_layer.acd_handover`) is not
waiting, so no instance offers it meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ccmesh.kv import KVError
from routing.adapters.acd_store import AcdStore, KeyMirror, UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.agent_index import AgentIndex
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.matching import Decision, choose_agent
from routing.domain.overflow import OverflowRule, QueueStats, firing_rule
from routing.domain.queueing import QueueSpec, queue_order
from routing.domain.reservations import AgentLedger, Held, ReservationError, ReservationState
from routing.service_layer.acd_handover import HandOver, RemoteQueues

log = logging.getLogger(__name__)

#: (event kind, tenant, contact record, detail) -> published on the region's event stream.
Publish = Callable[[str, str, ContactRecord, str], Awaitable[None]]


async def _no_publish(kind: str, tenant: str, record: ContactRecord, detail: str) -> None:
    return None


@dataclass(frozen=True)
class AcdSettings:
    offer_timeout_seconds: float = 20.0
    heartbeat_timeout_seconds: float = 30.0
    #: How often the loop sweeps for timed-out offers and lapsed heartbeats.
    tick_seconds: float = 0.5
    #: Handle time assumed by the Erlang C prediction of overflow rules, in seconds.
    average_handle_seconds: float = 300.0
    #: This instance's region; overflow rules to other regions hand the contact over there.
    region: str = ""
    #: How long a hand-over to another region may stay unanswered before a sweeper retries it.
    handover_timeout_seconds: float = 15.0
    #: After another region refused a contact, how long before a rule may hand it over again.
    handover_retry_seconds: float = 60.0


#: (tenant, queue) -> the overflow rules watching that queue, in order.
OverflowRules = Callable[[], Mapping[tuple[str, str], Sequence[OverflowRule]]]


def _no_rules() -> Mapping[tuple[str, str], Sequence[OverflowRule]]:
    return {}


def decision_record(decision: Decision, at: float) -> dict[str, Any]:
    return {
        "contact_id": decision.contact_id,
        "queue": decision.queue,
        "agent_id": decision.agent_id,
        "rule": decision.rule,
        "ring": decision.ring,
        "at": at,
        "candidates": [
            {"agent_id": c.agent_id, "score": c.score, "rejected": c.rejected} for c in decision.candidates
        ],
    }


class AcdOffers:
    """Routing passes and the offer/answer transitions; `AcdService` adds configuration,
    presence and the loop around them."""

    def __init__(
        self,
        store: AcdStore,
        mirror: KeyMirror,
        settings: AcdSettings | None = None,
        publish: Publish = _no_publish,
        clock: Callable[[], float] = time.time,
        overflow_rules: OverflowRules = _no_rules,
        remote: RemoteQueues | None = None,
    ) -> None:
        self._overflow_rules = overflow_rules
        #: Hands contacts to other regions' queues; None: rules to other regions do not act.
        self.hand_over = (
            None
            if remote is None
            else HandOver(
                store,
                remote,
                publish,
                deadline_seconds=(settings or AcdSettings()).handover_timeout_seconds,
                retry_seconds=(settings or AcdSettings()).handover_retry_seconds,
            )
        )
        self.store = store
        self.mirror = mirror
        self.settings = settings or AcdSettings()
        self._publish = publish
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    # -- routing ----------------------------------------------------------------------------

    async def route_pass(self) -> int:
        """Offer as many waiting contacts as agents allow; returns the number of offers made.

        A contact widened to other queues (overflow `widen`) is routed in its own queue and,
        if still waiting, in each of those too, by their rules and their agents.
        """
        now = self._clock()
        waiting: dict[tuple[str, str], list[ContactRecord]] = defaultdict(list)
        guests: dict[tuple[str, str], list[ContactRecord]] = defaultdict(list)
        # Counted in this one scan, not once per queue with overflow rules.
        arrivals: Counter[tuple[str, str]] = Counter()
        for (tenant, _), record in list(self.mirror.contacts.items()):
            if record.contact.enqueued_at > now - 3600:
                arrivals[(tenant, record.contact.queue)] += 1
            if record.status is ContactStatus.WAITING:
                waiting[(tenant, record.contact.queue)].append(record)
                for target in record.widened_to:
                    guests[(tenant, target)].append(record)
        offers = 0
        offered: set[str] = set()  # contact ids offered in this pass (a widened one is seen twice)
        for tenant, queue_name in [*waiting, *(key for key in guests if key not in waiting)]:
            queue = self.mirror.queues.get((tenant, queue_name))
            if queue is None:
                continue
            index = self.mirror.indexes.get(tenant)
            records = waiting.get((tenant, queue_name), [])
            if records:
                # Also with nobody routable here: that is when follow-the-sun rules matter most.
                records = await self._overflow(
                    tenant, queue, records, len(index or ()), arrivals[(tenant, queue.name)], now
                )
            if not index:
                continue
            records = records + guests.get((tenant, queue_name), [])
            offers += await self._route_queue(tenant, queue, records, index, now, offered)
        return offers

    async def _overflow(
        self,
        tenant: str,
        queue: QueueSpec,
        records: list[ContactRecord],
        staffed: int,
        arrivals: int,
        now: float,
    ) -> list[ContactRecord]:
        """Apply the queue's overflow rules to its waiting contacts; returns those that stay.

        `arrivals`: the queue's contacts enqueued in the last hour.

        `move` takes the contact to the target queue (keeping its arrival time); `widen` keeps it
        here and lets the target queue's agents take it too. A `move` to another region's queue
        hands the contact over to that region's routing service (`acd_handover`); `widen` acts
        only within this region (another region's agents cannot take a contact stored here).
        """
        hand_over = self.hand_over
        rules = [
            r
            for r in self._overflow_rules().get((tenant, queue.name), ())
            if r.target_region in ("", self.settings.region) or (hand_over is not None and r.action == "move")
        ]
        if not rules:
            return records
        stats = QueueStats(len(records), arrivals, self.settings.average_handle_seconds, staffed)
        staying = []
        for record in records:
            contact_id = record.contact.contact_id
            # A widening already done is not a reason to stop looking at the rules after it; a
            # region that refused the contact is not asked again until its retry time.
            pending = [
                r
                for r in rules
                if not (r.action == "widen" and r.target_queue in record.widened_to)
                and not (
                    _remote(r, self.settings.region)
                    and hand_over is not None
                    and not hand_over.may_try(tenant, contact_id, now)
                )
            ]
            fired = firing_rule(pending, now - record.contact.enqueued_at, stats)
            if fired is not None and hand_over is not None and _remote(fired[0], self.settings.region):
                moved = await hand_over.start(tenant, record, fired[0], fired[1], now)
                if moved is not None and moved.status is ContactStatus.WAITING:
                    staying.append(moved)  # refused there: it stays here
                continue
            if fired is None or (tenant, fired[0].target_queue) not in self.mirror.queues:
                staying.append(record)
                continue
            rule, why = fired
            widen = rule.action == "widen"
            try:
                changed = await self.store.update_contact(
                    tenant,
                    contact_id,
                    _widener(rule.target_queue) if widen else _mover(rule.target_queue),
                )
            except (ReservationError, UnknownKey, KVError):
                continue  # offered or moved by another instance meanwhile
            if widen:
                staying.append(changed)
                why = f"widened to {rule.target_queue}: {why}"
            await self._publish("overflow", tenant, changed, f"{queue.name}\t{rule.name}: {why}")
        return staying

    async def _route_queue(
        self,
        tenant: str,
        queue: QueueSpec,
        records: list[ContactRecord],
        index: AgentIndex,
        now: float,
        offered: set[str],
    ) -> int:
        """Offer the queue's waiting contacts, best first, to the agents of the tenant's index.

        A longest-idle decision (the common case) walks the index's buckets of agents with room on
        the contact's channel from the longest-idle end, so its cost does not depend on how many
        agents the tenant has; the other strategies and a contact still waiting for its
        preferred agent score every agent with room, as `choose_agent` must. Either way an agent
        that passed on the contact before is left out while another agent has room, and an agent
        whose offer failed (the mirror was stale about it) is left out for the rest of the pass.
        """
        by_id = {r.contact.contact_id: r for r in records}
        # The index keeps, per channel, the agents with room now (updated by `index_agent` after
        # each offer, as the watch does later), so "anyone free?" costs O(1), not a scan.
        failed: set[str] = set()

        def patch(agent_id: str, ledger: AgentLedger | None) -> None:
            if ledger is None:
                failed.add(agent_id)
            else:
                self.mirror.index_agent(tenant, agent_id, ledger)  # the watch brings the same soon

        offers = 0
        for contact in queue_order((r.contact for r in records), queue, now):
            if contact.contact_id in offered:
                continue
            record = by_id[contact.contact_id]
            waits_for_preferred = (
                contact.preferred_agent and now - contact.enqueued_at < queue.preferred_agent_timeout_seconds
            )
            if not index.has_room(contact.channel, failed):
                continue  # nobody has room on this channel
            if queue.strategy == "longest_idle" and not waits_for_preferred:
                decision = index.longest_idle(contact, queue, now, exclude=failed.union(record.passed_by))
                # Those who passed on it are asked again only when nobody else has room.
                if (
                    not decision.matched
                    and record.passed_by
                    and not index.has_room(contact.channel, failed.union(record.passed_by))
                ):
                    decision = index.longest_idle(contact, queue, now, exclude=failed)
            else:
                # These strategies score every agent with room, as `choose_agent` must.
                candidates = [index.agents[i] for i in index.free[contact.channel] if i not in failed]
                pool = [a for a in candidates if a.profile.agent_id not in record.passed_by] or candidates
                decision = choose_agent(contact, queue, pool, now)
            if not decision.matched:
                continue
            reserved = await self._offer(tenant, record, decision, now)
            patch(decision.agent_id, reserved)
            if reserved is not None:
                offers += 1
                offered.add(contact.contact_id)
        return offers

    async def _offer(
        self, tenant: str, record: ContactRecord, decision: Decision, now: float
    ) -> AgentLedger | None:
        reservation_id = uuid.uuid4().hex
        deadline = now + self.settings.offer_timeout_seconds
        contact = record.contact
        try:
            offered = await self.store.update_contact(
                tenant,
                contact.contact_id,
                lambda old: contact_rules.offer(_must(old), reservation_id, decision.agent_id, deadline),
            )
        except (ReservationError, UnknownKey, KVError):
            return None  # another instance got there first
        held = Held(reservation_id, contact.contact_id, contact.channel, ReservationState.OFFERED, deadline)
        try:
            ledger = await self.store.update_ledger(
                tenant, decision.agent_id, lambda old: ledger_rules.reserve(old, held)
            )
        except (ReservationError, UnknownKey, KVError):
            # The agent filled up since the mirror saw it: the contact goes straight back.
            with contextlib.suppress(ReservationError, UnknownKey, KVError):
                await self.store.update_contact(
                    tenant,
                    contact.contact_id,
                    lambda old: contact_rules.requeue(_must(old), reservation_id, passed=False),
                )
            return None
        await self.store.put_decision(tenant, contact.contact_id, decision_record(decision, now))
        await self._publish("offered", tenant, offered, decision.rule)
        return ledger

    # -- answers ----------------------------------------------------------------------------

    async def _held(self, tenant: str, agent_id: str, reservation_id: str) -> Held:
        return (await self.store.get_ledger(tenant, agent_id)).find(reservation_id)

    async def accept(self, tenant: str, agent_id: str, reservation_id: str) -> ContactRecord:
        held = await self._held(tenant, agent_id, reservation_id)
        now = self._clock()
        record = await self.store.update_contact(
            tenant, held.contact_id, lambda old: contact_rules.assign(_must(old), reservation_id, now)
        )
        try:
            await self.store.update_ledger(
                tenant, agent_id, lambda old: ledger_rules.accept(old, reservation_id)
            )
        except ReservationError:
            # The slot went away meanwhile (the agent went offline): the contact goes back.
            with contextlib.suppress(ReservationError):
                await self.store.update_contact(
                    tenant, held.contact_id, lambda old: contact_rules.unassign(_must(old), reservation_id)
                )
            raise
        await self._publish("accepted", tenant, record, "")
        return record

    async def decline(self, tenant: str, agent_id: str, reservation_id: str) -> ContactRecord:
        held = await self._held(tenant, agent_id, reservation_id)
        return await self._give_back(tenant, agent_id, held.contact_id, reservation_id, "declined")

    async def complete(self, tenant: str, agent_id: str, reservation_id: str) -> ContactRecord:
        held = await self._held(tenant, agent_id, reservation_id)
        record = await self.store.update_contact(
            tenant, held.contact_id, lambda old: contact_rules.close(_must(old), reservation_id)
        )
        now = self._clock()

        def release(ledger: AgentLedger) -> AgentLedger:
            try:
                return ledger_rules.release(ledger, reservation_id, now)
            except ReservationError:
                # The contact is closed already (written first), so any instance's sweeper may
                # free the slot before we get here: then the work is done, not failed.
                return ledger

        await self.store.update_ledger(tenant, agent_id, release)
        await self._publish("closed", tenant, record, "completed")
        return record

    async def _give_back(
        self, tenant: str, agent_id: str, contact_id: str, reservation_id: str, reason: str
    ) -> ContactRecord:
        """Re-queue an offered contact (decline or timeout) and free the agent's slot.

        Safe to run from several instances at once: only one contact transition succeeds; the
        ledger side releases the slot, or completes an accept that won the race.
        """
        now = self._clock()
        requeued = True
        try:
            record = await self.store.update_contact(
                tenant,
                contact_id,
                lambda old: contact_rules.requeue(_must(old), reservation_id, passed=reason != "offline"),
            )
        except ReservationError:
            requeued = False
            record = await self.store.update_contact(tenant, contact_id, _must)

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
            await self.store.update_ledger(tenant, agent_id, settle)
        if requeued:
            await self._publish(reason, tenant, record, f"{agent_id}\t{reservation_id}")
        return record


def _remote(rule: OverflowRule, region: str) -> bool:
    return bool(rule.target_region) and rule.target_region != region


def _must(record: ContactRecord | None) -> ContactRecord:
    if record is None:
        raise UnknownKey("unknown contact")
    return record


def _mover(queue: str) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.move(_must(old), queue)


def _widener(queue: str) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.widen(_must(old), queue)
