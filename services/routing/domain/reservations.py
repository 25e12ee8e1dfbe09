"""The reservation state machine and the per-agent ledger that enforces capacity (pure).

    OFFERED --accept--> ACCEPTED --complete--> (released)
       |----decline---> DECLINED   (contact re-queued at its original position)
       '----timeout---> TIMED_OUT  (contact re-queued at its original position)

The ledger is the value stored under one agent's key: the agent's state, the contacts it
holds (offered or accepted) and their deadlines. `reserve` refuses when the agent would go over
its capacity; because the adapter writes the ledger only if its revision is unchanged, two
routers that both read "one chat slot free" cannot both succeed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from types import MappingProxyType

from ccmesh.channels import Channel
from routing.domain.agents import AgentLoad, AgentProfile, AgentState, capacity_refusal
from routing.domain.quick_init import quick_init


class ReservationState(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    COMPLETED = "completed"


_TRANSITIONS: dict[ReservationState, frozenset[ReservationState]] = {
    ReservationState.OFFERED: frozenset(
        {ReservationState.ACCEPTED, ReservationState.DECLINED, ReservationState.TIMED_OUT}
    ),
    ReservationState.ACCEPTED: frozenset({ReservationState.COMPLETED}),
}


class ReservationError(ValueError):
    """An illegal transition or an unknown reservation (maps to FAILED_PRECONDITION / NOT_FOUND)."""


def transition(current: ReservationState, target: ReservationState) -> ReservationState:
    if target not in _TRANSITIONS.get(current, frozenset()):
        raise ReservationError(f"reservation cannot go from {current.value} to {target.value}")
    return target


@quick_init
@dataclass(frozen=True, slots=True)
class Held:
    """One contact an agent holds: offered (until `deadline`) or accepted."""

    reservation_id: str
    contact_id: str
    channel: Channel
    state: ReservationState
    deadline: float


#: The load of an agent holding nothing (read-only, so one object serves every idle ledger).
_NO_LOAD = AgentLoad(MappingProxyType({}))


@quick_init
@dataclass(frozen=True, slots=True)
class AgentLedger:
    profile: AgentProfile
    state: AgentState = AgentState.OFFLINE
    held: tuple[Held, ...] = ()
    idle_since: float = 0.0
    last_heartbeat: float = 0.0

    def load(self) -> AgentLoad:
        held = self.held
        if not held:
            return _NO_LOAD  # the idle agent's, asked for on every routing decision
        if len(held) == 1:
            return AgentLoad({held[0].channel: 1})  # one offer: the reservation's own re-index
        counts: dict[Channel, int] = {}
        for item in held:
            counts[item.channel] = counts.get(item.channel, 0) + 1
        return AgentLoad(counts)

    def find(self, reservation_id: str) -> Held:
        for item in self.held:
            if item.reservation_id == reservation_id:
                return item
        raise ReservationError(f"agent {self.profile.agent_id} holds no reservation {reservation_id!r}")


def reserve(ledger: AgentLedger, held: Held) -> AgentLedger:
    reason = capacity_refusal(ledger.profile, ledger.state, ledger.load(), held.channel)
    if reason is not None:
        raise ReservationError(f"cannot reserve agent {ledger.profile.agent_id}: {reason}")
    # Built directly rather than with `replace`: this is on every routing decision's path.
    return AgentLedger(
        ledger.profile, ledger.state, (*ledger.held, held), ledger.idle_since, ledger.last_heartbeat
    )


def accept(ledger: AgentLedger, reservation_id: str) -> AgentLedger:
    item = ledger.find(reservation_id)
    updated = replace(item, state=transition(item.state, ReservationState.ACCEPTED), deadline=0.0)
    held = tuple(updated if h.reservation_id == reservation_id else h for h in ledger.held)
    return replace(ledger, held=held, state=AgentState.BUSY)


def release(ledger: AgentLedger, reservation_id: str, now: float) -> AgentLedger:
    """Drop a held contact (declined, timed out or completed); the agent idles from `now`."""
    held = tuple([h for h in ledger.held if h.reservation_id != reservation_id])
    if len(held) == len(ledger.held):
        ledger.find(reservation_id)  # raises: the ledger holds no such reservation
    state = ledger.state
    if state is AgentState.BUSY and not held:
        state = AgentState.AVAILABLE
    return AgentLedger(ledger.profile, state, held, now, ledger.last_heartbeat)


def expired(ledger: AgentLedger, now: float) -> list[Held]:
    """Offers whose answer deadline has passed."""
    return [h for h in ledger.held if h.state is ReservationState.OFFERED and h.deadline <= now]


def set_state(ledger: AgentLedger, state: AgentState, now: float) -> AgentLedger:
    """Agent-driven state change. Going offline drops open offers (they are re-queued by the caller)."""
    held = ledger.held
    if state is AgentState.OFFLINE:
        held = tuple(h for h in held if h.state is not ReservationState.OFFERED)
    idle_since = (
        now
        if state is AgentState.AVAILABLE and ledger.state is not AgentState.AVAILABLE
        else ledger.idle_since
    )
    return replace(ledger, state=state, held=held, idle_since=idle_since, last_heartbeat=now)


def heartbeat_lapsed(ledger: AgentLedger, now: float, timeout_seconds: float) -> bool:
    return ledger.state is not AgentState.OFFLINE and now - ledger.last_heartbeat > timeout_seconds
