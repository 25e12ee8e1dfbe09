"""The sweeper: what nobody finished in time is finished by any instance.

Each pass re-queues offers past their deadline (the contact's, and the ledger's own holds),
resumes hand-overs to other regions left unanswered, frees slots held for contacts that moved
on, and sets agents whose heartbeat lapsed offline. Every step is a compare-and-set transition
that names its reservation, so several instances sweeping at once change each thing once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ccmesh.kv import KVError
from routing.adapters.acd_store import UnknownKey
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.events import OfferTimedOut
from routing.domain.reservations import AgentLedger, ReservationError
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_handover import HandOver
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_presence import Presence

_LOST_RACE = (ReservationError, UnknownKey, KVError)


class Sweeper:
    def __init__(
        self, context: AcdContext, offers: Offers, presence: Presence, hand_over: HandOver | None = None
    ) -> None:
        self._ctx = context
        self._offers = offers
        self._presence = presence
        self._hand_over = hand_over

    async def sweep(self) -> int:
        """Re-queue offers past their deadline and set agents with lapsed heartbeats offline."""
        ctx = self._ctx
        now = ctx.now()
        done = 0
        for (tenant, _), record in list(ctx.mirror.contacts.items()):
            if record.status is ContactStatus.OFFERED and record.deadline <= now:
                with contextlib.suppress(*_LOST_RACE):
                    contact_id, reservation_id = record.contact.contact_id, record.reservation_id
                    await self._offers.give_back(
                        tenant, record.agent_id, contact_id, reservation_id, OfferTimedOut
                    )
                    done += 1
        if self._hand_over is not None:
            done += await self._hand_over.sweep(ctx.mirror.contacts, now)
        for (tenant, agent_id), ledger in list(ctx.mirror.agents.items()):
            for held in ledger_rules.expired(ledger, now):
                with contextlib.suppress(*_LOST_RACE):
                    await self._offers.give_back(
                        tenant, agent_id, held.contact_id, held.reservation_id, OfferTimedOut
                    )
                    done += 1
            done += await self._free_orphans(tenant, agent_id, ledger, now)
            if ledger_rules.heartbeat_lapsed(ledger, now, ctx.settings.heartbeat_timeout_seconds):
                with contextlib.suppress(*_LOST_RACE):
                    await self._presence.set_agent_state(tenant, agent_id, AgentState.OFFLINE)
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
            record = self._ctx.mirror.contacts.get((tenant, held.contact_id))
            if record is None or (
                record.reservation_id == held.reservation_id
                and record.status in (ContactStatus.OFFERED, ContactStatus.ASSIGNED)
            ):
                continue
            with contextlib.suppress(*_LOST_RACE):
                await self._ctx.store.update_ledger(tenant, agent_id, _releaser(held.reservation_id, now))
                freed += 1
        return freed


def _releaser(reservation_id: str, now: float) -> Callable[[AgentLedger], AgentLedger]:
    return lambda ledger: ledger_rules.release(ledger, reservation_id, now)
