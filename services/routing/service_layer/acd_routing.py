"""The routing pass: offer waiting contacts to agents with room, after the overflow rules.

One pass reads this instance's view of the region's state and offers as many waiting contacts
as agents allow (`acd_offers` makes each offer safe against other instances doing the same).
Before a queue's contacts are offered, its overflow rules may move them to another queue, widen
them to another queue's agents, or hand them to another region (`acd_handover`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain.agent_index import AgentIndex
from routing.domain.closed_actions import hand_over_rule, when_closed
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import ContactOverflowed
from routing.domain.matching import choose_agent
from routing.domain.overflow import (
    OverflowMark,
    OverflowRule,
    QueueStats,
    Waiting,
    plan_overflow,
    return_threshold,
)
from routing.domain.prediction import ARRIVAL_WINDOW_SECONDS
from routing.domain.queueing import QueueSpec, queue_order
from routing.domain.reservations import AgentLedger, ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.acd_offers import Offers, must

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

    async def run(self) -> int:
        """Offer as many waiting contacts as agents allow; returns the number of offers made.

        A contact widened to other queues (overflow `widen`) is routed in its own queue and,
        if still waiting, in each of those too, by their rules and their agents.
        """
        now = self._ctx.now()
        waiting: dict[tuple[str, str], list[ContactRecord]] = defaultdict(list)
        guests: dict[tuple[str, str], list[ContactRecord]] = defaultdict(list)
        # Counted in this one scan, not once per queue with overflow rules: arrivals over the
        # prediction's sliding window, and each queue's depth (per tenant) for the hysteresis.
        arrivals: Counter[tuple[str, str]] = Counter()
        depths: dict[str, dict[str, int]] = defaultdict(dict)
        since = now - ARRIVAL_WINDOW_SECONDS
        for (tenant, _), record in list(self._ctx.mirror.contacts.items()):
            if record.contact.enqueued_at > since:
                arrivals[(tenant, record.contact.queue)] += 1
            if record.status is ContactStatus.WAITING:
                waiting[(tenant, record.contact.queue)].append(record)
                tenant_depths = depths[tenant]
                tenant_depths[record.contact.queue] = tenant_depths.get(record.contact.queue, 0) + 1
                for target in record.widened_to:
                    guests[(tenant, target)].append(record)
        offers = 0
        offered: set[str] = set()  # contact ids offered in this pass (a widened one is seen twice)
        for tenant, queue_name in [*waiting, *(key for key in guests if key not in waiting)]:
            queue = self._ctx.mirror.queues.get((tenant, queue_name))
            if queue is None:
                continue
            index = self._ctx.mirror.indexes.get(tenant)
            records = waiting.get((tenant, queue_name), [])
            if records:
                # Also with nobody routable here: that is when follow-the-sun rules matter most.
                per_hour = arrivals[(tenant, queue.name)] * 3600.0 / ARRIVAL_WINDOW_SECONDS
                records = await self._closed_hand_over(tenant, queue, records, now)
                records = await self._overflow(
                    tenant, queue, records, len(index or ()), per_hour, depths[tenant], now
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
        arrivals_per_hour: float,
        depths: dict[str, int],
        now: float,
    ) -> list[ContactRecord]:
        """Apply the queue's overflow rules to its waiting contacts; returns those that stay.

        `arrivals_per_hour`: the queue's arrival rate over the prediction's window; `depths`:
        the tenant's queues' waiting contacts (kept current as contacts move, for the
        hysteresis of `overflow.plan_overflow`). A depth rule moves only the contacts beyond its
        depth, in the order the queue serves them.

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
        stats = QueueStats(
            len(records), arrivals_per_hour, self._ctx.settings.average_handle_seconds, staffed
        )
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
            try:
                changed = await self._ctx.store.update_contact(
                    tenant,
                    contact_id,
                    _widener(rule.target_queue) if widen else _mover(rule.target_queue, mark),
                )
            except (ReservationError, UnknownKey, KVError):
                continue  # offered or moved by another instance meanwhile
            if widen:
                staying.append(changed)
                why = f"widened to {rule.target_queue}: {why}"
            else:
                depths[rule.target_queue] = depths.get(rule.target_queue, 0) + 1
                depths[queue.name] = depths.get(queue.name, 1) - 1
            await self._ctx.events(ContactOverflowed(tenant, changed, queue.name, f"{rule.name}: {why}"))
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
                self._ctx.mirror.index_agent(tenant, agent_id, ledger)  # the watch brings the same soon

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
            reserved = await self._offers.offer(tenant, record, decision, now)
            patch(decision.agent_id, reserved)
            if reserved is not None:
                offers += 1
                offered.add(contact.contact_id)
        return offers


def _remote(rule: OverflowRule, region: str) -> bool:
    return bool(rule.target_region) and rule.target_region != region


def _mover(queue: str, mark: OverflowMark) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.move(must(old), queue, mark)


def _widener(queue: str) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda old: contact_rules.widen(must(old), queue)
