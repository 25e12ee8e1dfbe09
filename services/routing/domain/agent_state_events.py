"""What changed in an agent's routing state, read from its ledger before and after a write (pure).

Every change of a ledger passes one store write, whichever use case made it (the agent's own
choice, the sweeper finding a lapsed heartbeat, an accepted offer, the last contact released), and
several use cases' changes of one agent may share that write. So the change is told from the two
ledgers rather than by each use case: one place, and nothing a new use case could forget.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.domain.agents import AgentState
from routing.domain.reservations import AgentLedger, ReservationState


class Reason:
    SET_BY_AGENT = "set_by_agent"
    PRESENCE_TIMEOUT = "presence_timeout"
    CONTACT_ACCEPTED = "contact_accepted"
    WORK_DONE = "work_done"


@dataclass(frozen=True, slots=True)
class AgentStateChange:
    tenant: str
    agent_id: str
    previous: AgentState
    state: AgentState
    reason: str
    #: Fixed by the change itself (not by when it was written), so a write retried after a lost
    #: race or a restart names the same change: see `identity`.
    identity: tuple[str, ...]


def _accepted(ledger: AgentLedger) -> frozenset[str]:
    return frozenset(h.reservation_id for h in ledger.held if h.state is ReservationState.ACCEPTED)


def state_change(
    tenant: str, before: AgentLedger | None, after: AgentLedger, heartbeat_timeout_seconds: float
) -> AgentStateChange | None:
    """The state change from `before` to `after`, or None when the state stayed (or the agent is
    new: it starts offline, which is no change)."""
    if before is None or before.state is after.state:
        return None
    accepted = _accepted(after) - _accepted(before)
    if after.state is AgentState.BUSY and accepted:
        reason = Reason.CONTACT_ACCEPTED
    elif before.state is AgentState.BUSY and after.state is AgentState.AVAILABLE and not after.held:
        reason = Reason.WORK_DONE
    elif (
        after.state is AgentState.OFFLINE
        and after.last_heartbeat - before.last_heartbeat > heartbeat_timeout_seconds
    ):
        # The sweeper takes an agent offline only once its heartbeat lapsed; an agent choosing
        # offline has sent heartbeats until then.
        reason = Reason.PRESENCE_TIMEOUT
    else:
        reason = Reason.SET_BY_AGENT
    identity = (
        before.state.value,
        after.state.value,
        repr(after.idle_since),
        repr(after.last_heartbeat),
        ",".join(sorted(accepted)),
    )
    return AgentStateChange(tenant, after.profile.agent_id, before.state, after.state, reason, identity)
