"""Routing tells each change of an agent's ledger state, with why, once per change."""

from __future__ import annotations

import pytest

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.outbox import SentIds
from contactcenter.events.v1 import events_pb2
from routing.adapters.agent_state_events import AgentStateAnnouncer, staged_state_change
from routing.domain import reservations as rules
from routing.domain.agent_state_events import Reason, state_change
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.reservations import AgentLedger, Held, ReservationState

TIMEOUT = 30.0


def ledger(state: AgentState = AgentState.OFFLINE, heartbeat: float = 0.0) -> AgentLedger:
    return AgentLedger(AgentProfile("a1", capacity={Channel.WEBCHAT: 2}), state, (), 0.0, heartbeat)


def offered(ledger_: AgentLedger, reservation: str) -> AgentLedger:
    return rules.reserve(
        ledger_, Held(reservation, f"c-{reservation}", Channel.WEBCHAT, ReservationState.OFFERED, 99.0)
    )


def test_the_agents_own_choice_is_set_by_agent():
    before = ledger(AgentState.OFFLINE, heartbeat=0.0)
    after = rules.set_state(before, AgentState.AVAILABLE, 100.0)
    change = state_change("t1", before, after, TIMEOUT)
    assert change is not None
    assert (change.tenant, change.agent_id) == ("t1", "a1")
    assert (change.previous, change.state, change.reason) == (
        AgentState.OFFLINE,
        AgentState.AVAILABLE,
        Reason.SET_BY_AGENT,
    )


def test_going_offline_by_choice_and_by_a_lapsed_heartbeat_are_told_apart():
    on = ledger(AgentState.AVAILABLE, heartbeat=100.0)
    chosen = state_change("t1", on, rules.set_state(on, AgentState.OFFLINE, 110.0), TIMEOUT)
    lapsed = state_change("t1", on, rules.set_state(on, AgentState.OFFLINE, 131.0), TIMEOUT)
    assert chosen is not None and chosen.reason == Reason.SET_BY_AGENT
    assert lapsed is not None and lapsed.reason == Reason.PRESENCE_TIMEOUT


def test_accepting_makes_busy_and_the_last_release_makes_available():
    idle = ledger(AgentState.AVAILABLE, heartbeat=100.0)
    ringing = offered(idle, "r1")
    assert state_change("t1", idle, ringing, TIMEOUT) is None  # an offer changes no state
    busy = rules.accept(ringing, "r1")
    accepted = state_change("t1", ringing, busy, TIMEOUT)
    assert accepted is not None
    assert (accepted.state, accepted.reason) == (AgentState.BUSY, Reason.CONTACT_ACCEPTED)
    second = rules.accept(offered(busy, "r2"), "r2")
    assert state_change("t1", busy, second, TIMEOUT) is None  # busy stays busy
    one_left = rules.release(second, "r1", 200.0)
    assert state_change("t1", second, one_left, TIMEOUT) is None
    done = rules.release(one_left, "r2", 250.0)
    released = state_change("t1", one_left, done, TIMEOUT)
    assert released is not None
    assert (released.previous, released.state, released.reason) == (
        AgentState.BUSY,
        AgentState.AVAILABLE,
        Reason.WORK_DONE,
    )


def test_a_new_agent_or_an_unchanged_state_tells_nothing():
    created = ledger()
    assert state_change("t1", None, created, TIMEOUT) is None
    assert state_change("t1", created, rules.set_state(created, AgentState.OFFLINE, 5.0), TIMEOUT) is None


def test_the_staged_event_is_fixed_by_the_change_so_a_retried_write_stages_the_same_id():
    before = ledger(AgentState.AVAILABLE, heartbeat=100.0)
    after = rules.set_state(before, AgentState.BREAK, 120.0)
    first = staged_state_change("agent.t1.a1", before, after, "eu", 120.0, TIMEOUT)
    # The same change written again after a lost race (a later clock): the same message id.
    again = staged_state_change("agent.t1.a1", before, after, "eu", 120.4, TIMEOUT)
    assert len(first) == 1 and [e.msg_id for e in again] == [first[0].msg_id]
    event = events_pb2.Event.FromString(first[0].data)
    assert first[0].subject == naming.event_subject("eu", "t1", "agent_state_changed", "agent-a1")
    assert event.event_id == first[0].msg_id
    assert (event.tenant.tenant_id, event.region, event.source) == ("t1", "eu", "routing-acd")
    changed = event.agent_state_changed
    assert (changed.agent_id, changed.previous_state, changed.state, changed.reason) == (
        "a1",
        "available",
        "break",
        "set_by_agent",
    )
    assert event.occurred_at.seconds == 120
    # A later change of the same kind is another event.
    back = rules.set_state(rules.set_state(after, AgentState.AVAILABLE, 130.0), AgentState.BREAK, 140.0)
    later = staged_state_change("agent.t1.a1", before, back, "eu", 140.0, TIMEOUT)
    assert later[0].msg_id != first[0].msg_id


@pytest.mark.parametrize(
    ("key", "region"),
    [("contact.t1.c1", "eu"), ("agent.t1.a1", "")],
)
def test_nothing_is_staged_for_other_records_or_without_a_region(key, region):
    before = ledger(AgentState.AVAILABLE, heartbeat=100.0)
    after = rules.set_state(before, AgentState.BREAK, 120.0)
    assert staged_state_change(key, before, after, region, 120.0, TIMEOUT) == []


async def test_the_announcer_publishes_what_the_stored_write_staged_and_notes_it_sent():
    published: list[str] = []
    failing = False

    async def publish(entry):
        if failing:
            raise ConnectionError("no servers available")
        published.append(entry.msg_id)

    announcer = AgentStateAnnouncer("eu", heartbeat_timeout_seconds=TIMEOUT, publish=publish)
    sent = SentIds()
    before = ledger(AgentState.AVAILABLE, heartbeat=100.0)
    # A write retried after a lost race stages twice; only what the stored attempt staged goes out.
    announcer.stage("agent.t1.a1", before, rules.set_state(before, AgentState.BREAK, 120.0), 120.0)
    stored = announcer.stage("agent.t1.a1", before, rules.set_state(before, AgentState.OFFLINE, 120.0), 120.0)
    await announcer.publish(stored, sent)
    assert published == [stored[0].msg_id] and stored[0].msg_id in sent
    await announcer.publish(stored, sent)  # already sent: nothing more
    assert len(published) == 1
    # A publish that fails is left in the ledger's outbox for its sweeper, not noted as sent.
    failing = True
    kept = announcer.stage("agent.t1.a1", before, rules.set_state(before, AgentState.BREAK, 130.0), 130.0)
    await announcer.publish(kept, sent)
    assert kept[0].msg_id not in sent
