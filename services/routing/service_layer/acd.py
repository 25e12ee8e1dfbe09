"""ACD use cases: configuration, enqueue, agent presence, sweeps and the loop (one instance).

Offers, reservations and answers (and how several routing instances never over-book an agent)
are in `routing.service_layer.acd_offers`; `AcdService` is the one object callers use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ccmesh.kv import KVError
from routing.adapters.acd_store import AcdStore, KeyMirror, UnknownKey
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AcdInputError, AgentProfile, AgentState, Channel
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.erlang_c import QueueParameterError, forecast
from routing.domain.queueing import QueueSpec, ServiceLevelTarget, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationError, ReservationState
from routing.domain.service_level import MeasuredLevel, Sample, measure
from routing.service_layer.acd_closing import close_contact
from routing.service_layer.acd_handover import RemoteQueues
from routing.service_layer.acd_offers import (
    AcdOffers,
    AcdSettings,
    OverflowRules,
    Publish,
    _no_publish,
    _no_rules,
    decision_record,
)
from routing.service_layer.acd_transfers import Transfer, transfer_contact

__all__ = [
    "AcdService",
    "AcdSettings",
    "OverflowRules",
    "Publish",
    "QueueClosed",
    "QueueReport",
    "Transfer",
    "decision_record",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueReport:
    depth: int
    longest_wait_seconds: float
    staffed_agents: int
    arrivals_last_hour: int
    predicted_service_level: float
    #: inf when the queue is unstaffed or overloaded.
    predicted_average_wait_seconds: float
    target: ServiceLevelTarget
    measured: MeasuredLevel


def service_samples(records: Iterable[ContactRecord]) -> list[Sample]:
    """What the measured service level counts: arrival and answer times of routed contacts.

    A contact handed to another region left this queue unanswered here; it is not counted.
    """
    return [
        Sample(r.contact.enqueued_at, r.answered_at)
        for r in records
        if r.status is not ContactStatus.TRANSFERRED
    ]


class QueueClosed(Exception):
    """The queue is outside its hours and its closed action is a callback or a message."""

    def __init__(self, queue: str, action: str) -> None:
        super().__init__(f"queue {queue!r} is closed: {action}")
        self.queue = queue
        self.action = action


class AcdService(AcdOffers):
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
        super().__init__(store, mirror, settings, publish, clock, overflow_rules, remote)
        self._loop: asyncio.Task[None] | None = None
        self._sequence = 0

    # -- configuration ---------------------------------------------------------------------

    async def configure_queue(self, queue: QueueSpec) -> None:
        await self.store.put_queue(queue)
        # Seen by this instance at once (the watch brings the same value a moment later).
        self.mirror.queues[(queue.tenant, queue.name)] = queue

    async def known_skills(self, tenant: str) -> set[str]:
        """The tenant's skill catalog: every skill its queues name."""
        return {s for (t, _), q in list(self.mirror.queues.items()) if t == tenant for s in q.required_skills}

    async def held_offers(self, tenant: str, agent_id: str) -> list[Held]:
        ledger = await self.store.get_ledger(tenant, agent_id)
        return [h for h in ledger.held if h.state is ReservationState.OFFERED]

    async def upsert_agent(self, tenant: str, profile: AgentProfile) -> AgentLedger:
        """Create the agent (offline) or replace its profile, keeping state and held contacts."""

        def change(old: AgentLedger | None) -> AgentLedger:
            if old is None:
                return AgentLedger(profile, AgentState.OFFLINE, (), self._clock(), 0.0)
            return AgentLedger(profile, old.state, old.held, old.idle_since, old.last_heartbeat)

        return await self.store.upsert_ledger(tenant, profile.agent_id, change)

    # -- contacts ---------------------------------------------------------------------------

    async def enqueue(self, tenant: str, contact: WaitingContact) -> ContactRecord:
        """Put a contact in its queue; a repeated enqueue of a known contact changes nothing.

        Outside the queue's hours the closed action applies: another queue takes the contact, or
        `QueueClosed` tells the caller to offer a callback or play a message.
        """
        queue = await self._queue(tenant, contact.queue)
        if queue is None:
            raise AcdInputError("queue", f"unknown queue {contact.queue!r} for tenant {tenant!r}")
        if queue.hours is not None and not queue.hours.is_open(datetime.fromtimestamp(self._clock(), UTC)):
            if queue.hours.closed_action != "queue":
                raise QueueClosed(queue.name, queue.hours.closed_action)
            target = queue.hours.closed_target_queue
            if target == contact.queue or await self._queue(tenant, target) is None:
                raise AcdInputError(
                    "queue", f"queue {queue.name!r} is closed and its target {target!r} is unknown"
                )
            contact = replace(contact, queue=target)
        unknown = sorted(contact.required_skills - await self.known_skills(tenant))
        if unknown:
            raise AcdInputError(
                "required_skills", f"unknown skill(s) {unknown}; no queue of {tenant!r} names them"
            )
        self._sequence += 1
        created: list[bool] = []

        def change(old: ContactRecord | None) -> ContactRecord:
            created.append(old is None)
            return old if old is not None else ContactRecord(contact)

        record = await self.store.update_contact(tenant, contact.contact_id, change)
        if created[-1]:
            await self._publish("queued", tenant, record, "")
        return record

    async def transfer(self, transfer: Transfer) -> tuple[ContactRecord, str]:
        """Move a contact its agent holds to another queue (see `acd_transfers`); the record as
        it now waits and the queue it left. Refused without any change: an unknown queue or
        skill (`AcdInputError`), a contact that agent does not hold (`ReservationError`)."""
        tenant = transfer.tenant
        if not transfer.queue:
            raise AcdInputError("queue", "is required")
        queue = await self._queue(tenant, transfer.queue)
        if queue is None:
            raise AcdInputError("queue", f"unknown queue {transfer.queue!r} for tenant {tenant!r}")
        if queue.hours is not None and not queue.hours.is_open(datetime.fromtimestamp(self._clock(), UTC)):
            target = queue.hours.closed_target_queue
            if queue.hours.closed_action != "queue" or await self._queue(tenant, target) is None:
                raise ReservationError(f"queue {queue.name!r} is closed now ({queue.hours.closed_action})")
            transfer = replace(transfer, queue=target)
        unknown = sorted((transfer.required_skills or frozenset()) - await self.known_skills(tenant))
        if unknown:
            raise AcdInputError(
                "required_skills", f"unknown skill(s) {unknown}; no queue of {tenant!r} names them"
            )
        return await transfer_contact(self.store, self._publish, transfer, self._clock())

    async def close_contact(self, tenant: str, contact_id: str) -> ContactRecord:
        """The contact closed outside the ACD (see `acd_closing`); its record afterwards."""
        return await close_contact(self.store, self._publish, tenant, contact_id, self._clock())

    async def _queue(self, tenant: str, name: str) -> QueueSpec | None:
        cached = self.mirror.queues.get((tenant, name))
        if cached is not None:
            return cached
        return await self.store.get_queue(tenant, name)

    # -- agents -----------------------------------------------------------------------------

    async def set_agent_state(self, tenant: str, agent_id: str, state: AgentState) -> AgentLedger:
        now = self._clock()
        before: list[AgentLedger] = []

        def change(ledger: AgentLedger) -> AgentLedger:
            before.append(ledger)
            return ledger_rules.set_state(ledger, state, now)

        after = await self.store.update_ledger(tenant, agent_id, change)
        kept = {h.reservation_id for h in after.held}
        for held in before[-1].held:
            if held.reservation_id not in kept:
                with contextlib.suppress(ReservationError, UnknownKey):
                    await self._give_back(tenant, agent_id, held.contact_id, held.reservation_id, "offline")
        return after

    async def heartbeat(self, tenant: str, agent_id: str) -> AgentLedger:
        now = self._clock()
        return await self.store.update_ledger(
            tenant, agent_id, lambda old: AgentLedger(old.profile, old.state, old.held, old.idle_since, now)
        )

    # -- timeouts ---------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Re-queue offers past their deadline and set agents with lapsed heartbeats offline."""
        now = self._clock()
        done = 0
        for (tenant, _), record in list(self.mirror.contacts.items()):
            if record.status is ContactStatus.OFFERED and record.deadline <= now:
                with contextlib.suppress(ReservationError, UnknownKey, KVError):
                    await self._give_back(
                        tenant, record.agent_id, record.contact.contact_id, record.reservation_id, "timeout"
                    )
                    done += 1
        if self.hand_over is not None:
            done += await self.hand_over.sweep(self.mirror.contacts, now)
        for (tenant, agent_id), ledger in list(self.mirror.agents.items()):
            for held in ledger_rules.expired(ledger, now):
                with contextlib.suppress(ReservationError, UnknownKey, KVError):
                    await self._give_back(tenant, agent_id, held.contact_id, held.reservation_id, "timeout")
                    done += 1
            done += await self._free_orphans(tenant, agent_id, ledger, now)
            if ledger_rules.heartbeat_lapsed(ledger, now, self.settings.heartbeat_timeout_seconds):
                with contextlib.suppress(ReservationError, UnknownKey, KVError):
                    await self.set_agent_state(tenant, agent_id, AgentState.OFFLINE)
        return done

    async def _free_orphans(self, tenant: str, agent_id: str, ledger: AgentLedger, now: float) -> int:
        """Free slots held for contacts no longer offered or assigned under them (an instance
        stopped between a transfer's or a close's two writes).

        Safe on the mirror: every flow writes the contact before the ledger and the watch
        delivers in write order, so a mirrored hold's contact is at least as new as the hold; a
        reservation id is never reused, so a contact that left it never comes back to it.
        """
        freed = 0
        for held in ledger.held:
            record = self.mirror.contacts.get((tenant, held.contact_id))
            if record is None or (
                record.reservation_id == held.reservation_id
                and record.status in (ContactStatus.OFFERED, ContactStatus.ASSIGNED)
            ):
                continue
            with contextlib.suppress(ReservationError, UnknownKey, KVError):
                await self.store.update_ledger(tenant, agent_id, _releaser(held.reservation_id, now))
                freed += 1
        return freed

    # -- the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.mirror.start()
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            try:
                await self._loop
            except asyncio.CancelledError:
                pass
            except Exception:  # already logged by the loop; stopping must not fail on it
                log.exception("routing loop had failed")
        await self.mirror.stop()

    async def _run(self) -> None:
        next_sweep = 0.0
        while True:
            # Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives just
            # as the awaited event is set, and then `stop()` waited forever for this loop (seen
            # as a shutdown that now and then never ended). `asyncio.timeout` lets it through.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.tick_seconds):
                    await self.mirror.changed.wait()
            self.mirror.changed.clear()
            try:
                await self.route_pass()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.settings.tick_seconds
                    await self.sweep()
            except Exception:
                # The loop must outlive any one bad pass (a lost connection, a corrupt record):
                # state is in the bucket, so the next pass simply starts over.
                log.exception("routing pass failed, retrying")
                await asyncio.sleep(self.settings.tick_seconds)

    async def queue_stats(
        self,
        tenant: str,
        queue_name: str,
        target_answer_seconds: float | None = None,
        *,
        channel: Channel | None = None,
        window_seconds: float = 3600.0,
    ) -> QueueReport:
        """Depth and longest wait now; Erlang C prediction from the last hour's arrivals; the
        service level measured over `window_seconds` against the queue's (or the channel's) target.

        `channel` narrows everything to that channel's contacts; the prediction's threshold is
        `target_answer_seconds`, else the target's.
        """
        queue = await self._queue(tenant, queue_name)
        if queue is None:
            raise AcdInputError("queue", f"unknown queue {queue_name!r} for tenant {tenant!r}")
        target = queue.target_for(channel)
        threshold = target_answer_seconds or target.within_seconds
        now = self._clock()
        records = [
            r
            for (t, _), r in list(self.mirror.contacts.items())
            if t == tenant and r.contact.queue == queue_name and channel in (None, r.contact.channel)
        ]
        waiting = [r for r in records if r.status is ContactStatus.WAITING]
        arrivals = sum(1 for r in records if r.contact.enqueued_at > now - 3600)
        staffed = sum(
            1
            for (t, _), ledger in list(self.mirror.agents.items())
            if t == tenant and ledger.state in (AgentState.AVAILABLE, AgentState.BUSY)
        )
        try:
            predicted = forecast(arrivals, self.settings.average_handle_seconds, staffed, threshold)
            level, wait = predicted.service_level, predicted.average_wait_seconds
        except QueueParameterError as error:
            raise AcdInputError("target_answer_seconds", str(error)) from None
        return QueueReport(
            depth=len(waiting),
            longest_wait_seconds=max((now - r.contact.enqueued_at for r in waiting), default=0.0),
            staffed_agents=staffed,
            arrivals_last_hour=arrivals,
            predicted_service_level=level,
            predicted_average_wait_seconds=wait,
            target=target,
            measured=measure(service_samples(records), target.within_seconds, now, window_seconds),
        )

    async def explain(self, tenant: str, contact_id: str) -> dict[str, Any] | None:
        return await self.store.get_decision(tenant, contact_id)


def _releaser(reservation_id: str, now: float) -> Callable[[AgentLedger], AgentLedger]:
    return lambda ledger: ledger_rules.release(ledger, reservation_id, now)
