"""The mirror keeps each tenant's agent index in step with the agent records it watches."""

from typing import Any

from ccmesh.channels import Channel
from routing.adapters.acd_codec import ledger_to_bytes
from routing.adapters.acd_store import KeyMirror
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState


def _put(mirror: KeyMirror, tenant: str, ledger: AgentLedger) -> None:
    mirror.apply(f"agent.{tenant}.{ledger.profile.agent_id}", ledger_to_bytes(ledger), "PUT")


def test_only_available_or_busy_agents_are_indexed_per_tenant() -> None:
    kv: Any = None
    mirror = KeyMirror(kv)
    a1 = AgentLedger(AgentProfile("a1"), AgentState.AVAILABLE, (), 1.0)
    _put(mirror, "acme", a1)
    _put(mirror, "acme", AgentLedger(AgentProfile("a2"), AgentState.BREAK, (), 0.5))
    _put(mirror, "other", AgentLedger(AgentProfile("a3"), AgentState.AVAILABLE, (), 0.1))
    assert set(mirror.indexes["acme"].agents) == {"a1"}
    assert set(mirror.indexes["other"].agents) == {"a3"}

    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 10.0)
    queue = QueueSpec("acme", "q")
    assert mirror.indexes["acme"].longest_idle(contact, queue, 10.0).agent_id == "a1"

    # A reservation fills a1's chat capacity: still indexed (busy agents may have room elsewhere),
    # but out of the chat buckets, so a chat decision does not meet it.
    held = Held("r1", "c0", Channel.WEBCHAT, ReservationState.OFFERED, 30.0)
    _put(mirror, "acme", AgentLedger(a1.profile, AgentState.AVAILABLE, (held,), 1.0))
    assert set(mirror.indexes["acme"].agents) == {"a1"}
    assert "a1" not in mirror.indexes["acme"].free[Channel.WEBCHAT]
    decision = mirror.indexes["acme"].longest_idle(contact, queue, 10.0)
    assert not decision.matched and decision.candidates == ()

    _put(mirror, "acme", AgentLedger(AgentProfile("a2"), AgentState.AVAILABLE, (), 0.5))
    assert mirror.indexes["acme"].longest_idle(contact, queue, 10.0).agent_id == "a2"
    mirror.apply("agent.acme.a2", None, "DEL")
    _put(mirror, "acme", AgentLedger(a1.profile, AgentState.OFFLINE, (), 1.0))
    assert not mirror.indexes["acme"].agents
