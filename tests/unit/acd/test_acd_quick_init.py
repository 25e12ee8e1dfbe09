"""The routing records built on every decision keep what `dataclass` gave them under `quick_init`:
frozen, the same defaults, equality, hash and `replace`, `__post_init__` checks; and a class
`quick_init` cannot build an equivalent `__init__` for is refused when it is defined."""

import dataclasses

import pytest

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError, AgentProfile, AgentState
from routing.domain.matching import Candidate, Decision
from routing.domain.queueing import WaitingContact
from routing.domain.quick_init import quick_init
from routing.domain.reservations import AgentLedger, Held, ReservationState


def test_records_keep_defaults_equality_hash_and_stay_frozen() -> None:
    ledger = AgentLedger(AgentProfile("a1"))
    assert (ledger.state, ledger.held, ledger.idle_since, ledger.last_heartbeat) == (
        AgentState.OFFLINE,
        (),
        0.0,
        0.0,
    )
    assert ledger == AgentLedger(AgentProfile("a1"), state=AgentState.OFFLINE)
    decision = Decision("c1", "q", "a1", "longest_idle", 0, (Candidate("a1", 2.0),))
    assert (decision.language, decision.language_mode, decision.language_ring) == ("", "", 0)
    assert hash(decision) == hash(Decision("c1", "q", "a1", "longest_idle", 0, (Candidate("a1", 2.0),)))
    assert decision != dataclasses.replace(decision, agent_id="a2")
    assert dataclasses.replace(decision, agent_id="a2").agent_id == "a2"
    held = Held("r1", "c1", Channel.WEBCHAT, ReservationState.OFFERED, deadline=5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.deadline = 6.0  # type: ignore[misc]
    assert repr(Candidate("a1", 1.0)) == "Candidate(agent_id='a1', score=1.0, rejected='')"


def test_post_init_still_checks_the_input() -> None:
    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 1.0, language="en")
    assert (contact.sequence, contact.language, contact.required_skills) == (0, "en", frozenset())
    with pytest.raises(AcdInputError, match="priority"):
        WaitingContact("c1", "q", Channel.WEBCHAT, 0, 1.0)
    with pytest.raises(AcdInputError, match="contact_id"):
        dataclasses.replace(contact, contact_id="")
    with pytest.raises(TypeError):
        WaitingContact("c1", "q", Channel.WEBCHAT, 50, 1.0, colour="red")  # type: ignore[call-arg]


def test_fields_it_cannot_build_alike_are_refused() -> None:
    with pytest.raises(TypeError, match="default factory"):

        @quick_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class WithFactory:
            items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="slotted dataclass"):

        @quick_init
        @dataclasses.dataclass(frozen=True)
        class NotSlotted:
            name: str
