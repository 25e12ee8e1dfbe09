"""Agents: their profiles, the states they choose and the heartbeat that proves they are there.

Going offline (by choice, or by a lapsed heartbeat found by the sweeper) returns the agent's
ringing offers to their queues; contacts it already accepted stay with it.
"""

from __future__ import annotations

import contextlib

from routing.adapters.acd_store import UnknownKey
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.events import ContactRequeued
from routing.domain.reservations import AgentLedger, Held, ReservationError, ReservationState
from routing.service_layer.acd_context import AcdContext
from routing.service_layer.acd_offers import Offers


class Presence:
    def __init__(self, context: AcdContext, offers: Offers) -> None:
        self._ctx = context
        self._offers = offers

    async def upsert_agent(self, tenant: str, profile: AgentProfile) -> AgentLedger:
        """Create the agent (offline) or replace its profile, keeping state and held contacts."""
        now = self._ctx.now()

        def change(old: AgentLedger | None) -> AgentLedger:
            if old is None:
                return AgentLedger(profile, AgentState.OFFLINE, (), now, 0.0)
            return AgentLedger(profile, old.state, old.held, old.idle_since, old.last_heartbeat)

        return await self._ctx.store.upsert_ledger(tenant, profile.agent_id, change)

    async def held_offers(self, tenant: str, agent_id: str) -> list[Held]:
        ledger = await self._ctx.store.get_ledger(tenant, agent_id)
        return [h for h in ledger.held if h.state is ReservationState.OFFERED]

    async def set_agent_state(self, tenant: str, agent_id: str, state: AgentState) -> AgentLedger:
        now = self._ctx.now()
        before: list[AgentLedger] = []

        def change(ledger: AgentLedger) -> AgentLedger:
            before.append(ledger)
            return ledger_rules.set_state(ledger, state, now)

        after = await self._ctx.store.update_ledger(tenant, agent_id, change)
        kept = {h.reservation_id for h in after.held}
        for held in before[-1].held:
            if held.reservation_id not in kept:
                with contextlib.suppress(ReservationError, UnknownKey):
                    await self._offers.give_back(
                        tenant, agent_id, held.contact_id, held.reservation_id, ContactRequeued
                    )
        return after

    async def heartbeat(self, tenant: str, agent_id: str) -> AgentLedger:
        now = self._ctx.now()
        return await self._ctx.store.update_ledger(
            tenant, agent_id, lambda old: AgentLedger(old.profile, old.state, old.held, old.idle_since, now)
        )
