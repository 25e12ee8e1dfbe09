"""The routing pass: offer waiting contacts to agents with room, after the overflow rules.

One pass reads this instance's view of the region's state and offers as many waiting contacts
as agents allow (`acd_offers` makes each offer safe against other instances doing the same).
Before a queue's contacts are offered, its overflow rules may move them to another queue, widen
them to another queue's agents, or hand them to another region (`acd_handover`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AgentLoad, capacity_refusal
from routing.domain.closed_actions import hand_over_rule, when_closed
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import Announce, ContactOverflowed
from routing.domain.matching import AgentView, Decision, choose_agent
from routing.domain.overflow import (
    OverflowMark,
    OverflowRule,
    QueueStats,
    Waiting,
    plan_overflow,
    return_threshold,
)
from routing.domain.queueing import QueueSpec, queue_order
from routing.domain.reservations import AgentLedger, ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.acd_offers import Offers, must
from routing.service_layer.acd_prediction import predicted_service_level

#: How many contacts a pass looks at between letting the instance's other tasks run.
PLAN_SLICE = 64
#: How many agents' offers a pass writes at once (each: its contacts' writes, then its ledger's).
#: A pass lasts as long as its longest chain of round trips: a backlog offered to many agents
#: must not queue behind a few at a time.
OFFER_CONCURRENCY = 16
#: How long a contact offered by a pass is not offered again while the view still shows the
#: record the offer was made from. Its watch shows the offer's write within milliseconds; a view
#: unchanged after this long means the offer failed without writing (the bucket electing a
#: leader) or the watch missed a revision: the contact's stored record is read then and the
#: contact routed again, so neither leaves it waiting for good.
IN_FLIGHT_SECONDS = 3.0
#: How long a pass waits for those reads: a bucket electing a leader must not hold up routing
#: (a contact whose read did not finish is routed again all the same).
REFRESH_WAIT_SECONDS = 1.0
#: How long a queue's predicted service level is reused by later passes: computing it reads
#: the tenant's agents and the queue's recent contacts, and passes run many times a second.
PREDICTION_REUSE_SECONDS = 1.0

#: (tenant, queue) -> the overflow rules watching that queue, in order.
OverflowRules = Callable[[], Mapping[tuple[str, str], Sequence[OverflowRule]]]


def no_rules() -> Mapping[tuple[str, str], Sequence[OverflowRule]]:
    return {}


class RoutingPass:
    def __init__(
        self,
        context: AcdContext,
        offers: Offers,
        overflow_rules: OverflowRules = no_rules,
        hand_over: HandOver | None = None,
    ) -> None:
        self._ctx = context
        self._offers = offers
        self._overflow_rules = overflow_rules
        #: Hands contacts to other regions' queues; None: rules to other regions do not act.
        self._hand_over = hand_over
        #: (tenant, contact id) -> the waiting record an offer was made from and when, until the
        #: view shows a newer record of the contact or `IN_FLIGHT_SECONDS` pass.
        self._in_flight: dict[tuple[str, str], tuple[ContactRecord, float]] = {}
        #: (tenant, queue) -> (when computed, predicted service level), for prediction rules.
        self._predicted: dict[tuple[str, str], tuple[float, float]] = {}

    async def run(self) -> int:
        """Offer as many waiting contacts as agents allow; returns the number of offers made.

        A contact widened to other queues (overflow `widen`) is routed in its own queue and,
        if still waiting, in each of those too, by their rules and their agents. The pass
        decides every queue's offers first, on the working set (each decision reserves the
        agent there at once, so the next one sees its room taken), then makes them all at once
        (`Offers.offer_many` per agent, the agents' concurrently).
        """
        view = self._ctx.mirror
        now = self._ctx.now()
        view.prune(now)
        await self._forget_offers_made(now)
        # Each queue's depth (per tenant) for the hysteresis.
        depths: dict[str, dict[str, int]] = defaultdict(dict)
        for (tenant, queue_name), listed in view.waiting.items():
            depths[tenant][queue_name] = len(listed)
        guests = {key: list(listed.values()) for key, listed in view.widened.items()}
        plan = _Plan()
        rules = self._overflow_rules()
        waiting = list(view.waiting)
        for tenant, queue_name in [*waiting, *(key for key in guests if key not in view.waiting)]:
            queue = view.queues.get((tenant, queue_name))
            if queue is None:
                continue
            index = view.indexes.get(tenant)
            # While nobody of the tenant has room and no rule can move them, a backlog is not
            # looked at: a pass costs nothing per waiting contact when all agents are busy.
            routable = index is not None and any(index.free.values())
            queue_waiting = view.waiting.get((tenant, queue_name))
            records: list[ContactRecord] = []
            if queue_waiting and (routable or self._may_move(tenant, queue, rules)):
                records = list(queue_waiting.values())
                # Also with nobody routable here: that is when follow-the-sun rules matter most.
                records = await self._closed_hand_over(tenant, queue, records, now)
                records = await self._overflow(tenant, queue, records, depths[tenant], now)
            if not routable or index is None:
                continue
            records = records + guests.get((tenant, queue_name), [])
            await self._plan_queue(tenant, queue, records, index, now, plan)
        return await self._make_offers(plan, now)

    def _may_move(
        self, tenant: str, queue: QueueSpec, rules: Mapping[tuple[str, str], Sequence[OverflowRule]]
    ) -> bool:
        """Whether a rule may move the queue's waiting contacts elsewhere: an overflow rule of
        the queue (`rules`: this pass's), or closed hours that hand them to another region."""
        if rules.get((tenant, queue.name)):
            return True
        hours = queue.hours
        return hours is not None and hours.closed_action == "queue" and self._hand_over is not None

    async def _forget_offers_made(self, now: float) -> None:
        """Contacts offered by an earlier pass whose record the view has not replaced yet (the
        watch is a moment behind) are not offered again meanwhile; those it has not replaced
        within `IN_FLIGHT_SECONDS` are read from the store (the view takes the stored record if
        newer) and routed again."""
        view = self._ctx.mirror
        kept: dict[tuple[str, str], tuple[ContactRecord, float]] = {}
        overdue: list[tuple[str, str]] = []
        for key, (record, since) in self._in_flight.items():
            if view.contacts.get(key) is not record:
                continue
            if now - since < IN_FLIGHT_SECONDS:
                kept[key] = (record, since)
            else:
                overdue.append(key)
        self._in_flight = kept
        if overdue:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_WAIT_SECONDS):
                    await asyncio.gather(*(view.refresh_contact(t, contact_id) for t, contact_id in overdue))

    async def _overflow(
        self,
        tenant: str,
        queue: QueueSpec,
        records: list[ContactRecord],
        depths: dict[str, int],
        now: float,
    ) -> list[ContactRecord]:
        """Apply the queue's overflow rules to its waiting contacts; returns those that stay.

        A prediction rule reads the queue's predicted service level as `GetQueueStats` shows it
        (`acd_prediction.predicted_service_level`), computed only if reached and reused for
        `PREDICTION_REUSE_SECONDS`; `depths`: the tenant's queues' waiting contacts (kept current
        as contacts move, for the hysteresis of `overflow.plan_overflow`). A depth rule moves
        only the contacts beyond its depth, in the order the queue serves them.

        `move` takes the contact to the target queue (keeping its arrival time); `widen` keeps it
        here and lets the target queue's agents take it too. A `move` to another region's queue
        hands the contact over to that region's routing service (`acd_handover`); `widen` acts
        only within this region (another region's agents cannot take a contact stored here).
        """
        hand_over = self._hand_over
        region = self._ctx.settings.region
        rules = [
            r
            for r in self._overflow_rules().get((tenant, queue.name), ())
            if r.target_region in ("", region) or (hand_over is not None and r.action == "move")
        ]
        if not rules:
            return records
        mirror = self._ctx.mirror

        def predicted() -> float:
            key = (tenant, queue.name)
            found = self._predicted.get(key)
            if found is None or now - found[0] >= PREDICTION_REUSE_SECONDS or now < found[0]:
                found = (now, predicted_service_level(mirror, tenant, queue, now))
                self._predicted[key] = found
            return found[1]

        stats = QueueStats(len(records), predicted)
        ordered = queue_order((r.contact for r in records), queue, now)
        by_id = {r.contact.contact_id: r for r in records}
        waiting = [Waiting(c.contact_id, now - c.enqueued_at, by_id[c.contact_id].overflow) for c in ordered]

        def may_apply(contact_id: str, rule: OverflowRule) -> bool:
            # A widening already done is not a reason to stop looking at the rules after it; a
            # region that refused the contact is not asked again until its retry time.
            if rule.action == "widen" and rule.target_queue in by_id[contact_id].widened_to:
                return False
            return not (
                _remote(rule, region)
                and hand_over is not None
                and not hand_over.may_try(tenant, contact_id, now)
            )

        plan = plan_overflow(rules, waiting, stats, now, depths, may_apply)
        staying = []
        for entry in waiting:
            record = by_id[entry.contact_id]
            contact_id = entry.contact_id
            fired = plan.get(contact_id)
            if fired is not None and hand_over is not None and _remote(fired[0], region):
                moved = await hand_over.start(tenant, record, fired[0], fired[1], now)
                if moved is not None and moved.status is ContactStatus.WAITING:
                    staying.append(moved)  # refused there: it stays here
                continue
            if fired is None or (tenant, fired[0].target_queue) not in self._ctx.mirror.queues:
                staying.append(record)
                continue
            rule, why = fired
            widen = rule.action == "widen"
            mark = OverflowMark(queue.name, now, return_threshold(rule))
            if widen:
                why = f"widened to {rule.target_queue}: {why}"
            reason = f"{rule.name}: {why}"
            try:
                # The move and its announcement are one write (`ccmesh.outbox`): a crash before
                # the publish below delays the event by a sweep instead of losing it.
                changed = await self._ctx.store.update_contact(
                    tenant,
                    contact_id,
                    _widener(rule.target_queue) if widen else _mover(rule.target_queue, mark),
                    announce=_overflowed(tenant, queue.name, reason),
                )
            except (ReservationError, UnknownKey, KVError):
                continue  # offered or moved by another instance meanwhile
            if widen:
                staying.append(changed)
            else:
                depths[rule.target_queue] = depths.get(rule.target_queue, 0) + 1
                depths[queue.name] = depths.get(queue.name, 1) - 1
            await self._ctx.events(ContactOverflowed(tenant, changed, queue.name, reason))
        return staying

    async def _closed_hand_over(
        self, tenant: str, queue: QueueSpec, records: list[ContactRecord], now: float
    ) -> list[ContactRecord]:
        """A closed queue whose closed action names another region's queue hands its waiting
        contacts over there (as an overflow move would); returns those that stay here."""
        hours, hand_over = queue.hours, self._hand_over
        if hours is None or hours.closed_action != "queue" or hand_over is None:
            return records
        if hours.closed_target_region in ("", self._ctx.settings.region):
            return records
        closed = when_closed(queue, self._ctx.now_utc(), self._ctx.settings.region)
        if closed is None or not closed.hands_over:
            return records
        rule = hand_over_rule(queue, closed)
        staying = []
        for record in records:
            if not hand_over.may_try(tenant, record.contact.contact_id, now):
                staying.append(record)
                continue
            moved = await hand_over.start(tenant, record, rule, "queue closed", now)
            if moved is not None and moved.status is ContactStatus.WAITING:
                staying.append(moved)  # refused there: it waits here for the queue to open
        return staying

    async def _plan_queue(
        self,
        tenant: str,
        queue: QueueSpec,
        records: list[ContactRecord],
        index: AgentIndex,
        now: float,
        plan: _Plan,
    ) -> None:
        """Decide the queue's offers, best contact first, among the agents of the tenant's index.

        A longest-idle decision (the common case) walks the index's buckets of agents with room on
        the contact's channel from the longest-idle end, so its cost does not depend on how many
        agents the tenant has; the other strategies and a contact still waiting for its
        preferred agent score every agent with room, as `choose_agent` must. Either way an agent
        that passed on the contact before is left out while another agent has room. Each
        decision takes its slot in the index at once (the agent's load one higher), so the next
        decision sees the room taken; the writes that follow check capacity again.
        """
        if not any(index.free.values()):
            return  # nobody of the tenant has room on any channel
        failed = plan.failed.setdefault(tenant, set())
        by_id = {r.contact.contact_id: r for r in records}
        for n, contact in enumerate(queue_order((r.contact for r in records), queue, now), 1):
            if n % PLAN_SLICE == 0:
                await asyncio.sleep(0)  # a long backlog must not hold up the instance's other work
            if contact.contact_id in plan.offered:
                continue
            record = by_id[contact.contact_id]
            in_flight = self._in_flight.get((tenant, contact.contact_id))
            if in_flight is not None and in_flight[0] is record:
                continue
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
            agent_id = decision.agent_id
            seen = index.agents.get(agent_id)
            if seen is None or capacity_refusal(seen.profile, seen.state, seen.load, contact.channel):
                failed.add(agent_id)  # the index changed under the decision: not this pass
                continue
            active = dict(seen.load.active)
            active[contact.channel] = active.get(contact.channel, 0) + 1
            projected = AgentView(seen.profile, seen.state, AgentLoad(active), seen.idle_since)
            index.put(projected)
            agent_key = (tenant, agent_id)
            plan.before.setdefault(agent_key, seen)
            plan.projected[agent_key] = projected
            plan.picks.setdefault(agent_key, []).append((record, decision))
            plan.offered.add(contact.contact_id)

    async def _make_offers(self, plan: _Plan, now: float) -> int:
        """Make the planned offers, the agents' concurrently; the index takes each agent's
        ledger as written (the watch brings the same soon)."""
        view = self._ctx.mirror
        limit = asyncio.Semaphore(OFFER_CONCURRENCY)

        async def offer(agent_key: tuple[str, str], picks: list[tuple[ContactRecord, Decision]]) -> int:
            tenant, agent_id = agent_key
            ledger: AgentLedger | None = None
            offered: list[ContactRecord] = []
            try:
                async with limit:
                    ledger, offered = await self._offers.offer_many(tenant, agent_id, picks, now)
            finally:
                # The index takes what the agent really holds now: the ledger as written, or,
                # when nothing was, the agent as before the pass (unless the watch brought a
                # newer one meanwhile). Only the index: the view's records stay as the watch
                # delivers them, in write order, which the sweeper's search for orphaned slots
                # relies on.
                index = view.indexes.get(tenant)
                if ledger is not None:
                    view.index_agent(tenant, agent_id, ledger)
                elif index is not None and index.agents.get(agent_id) is plan.projected[agent_key]:
                    index.put(plan.before[agent_key])
            in_flight = self._in_flight
            for record, _ in picks:
                in_flight[(tenant, record.contact.contact_id)] = (record, now)
            return len(offered)

        results = await asyncio.gather(
            *(offer(key, picks) for key, picks in plan.picks.items()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))


@dataclass
class _Plan:
    """One routing pass's decisions before they are written."""

    #: (tenant, agent) -> the contacts decided for the agent, in decision order.
    picks: dict[tuple[str, str], list[tuple[ContactRecord, Decision]]] = field(default_factory=dict)
    #: (tenant, agent) -> the agent in the index before this pass's decisions, and with them.
    before: dict[tuple[str, str], AgentView] = field(default_factory=dict)
    projected: dict[tuple[str, str], AgentView] = field(default_factory=dict)
    #: Contact ids decided in this pass (a widened contact is seen in several queues).
    offered: set[str] = field(default_factory=set)
    #: Per tenant, agents found full although the index had them with room.
    failed: dict[str, set[str]] = field(default_factory=dict)


def _remote(rule: OverflowRule, region: str) -> bool:
    return bool(rule.target_region) and rule.target_region != region


def _mover(queue: str, mark: OverflowMark) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.move(must(old), queue, mark)


def _widener(queue: str) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.widen(must(old), queue)


def _overflowed(tenant: str, from_queue: str, reason: str) -> Announce[ContactRecord]:
    """What announces an overflow rule's move or widening, staged with the change itself."""
    return lambda _old, new: (ContactOverflowed(tenant, new, from_queue, reason),)
