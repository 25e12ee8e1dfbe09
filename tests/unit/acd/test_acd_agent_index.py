"""The agent index picks what the full scan picks, and skips stale or ineligible agents."""

import random

from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AgentLoad, AgentProfile, AgentState, Channel
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import BullseyeRing, QueueSpec, WaitingContact

SKILLS = ["billing", "tech", "sales", "claims"]


def random_agent(rng: random.Random, n: int) -> AgentView:
    skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))}
    profile = AgentProfile(
        f"a{n}",
        skills=skills,
        languages=frozenset(rng.sample(["en", "de", "fr"], rng.randint(1, 2))),
        capacity={Channel.VOICE: 1, Channel.CHAT: 2},
    )
    state = rng.choice([AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.BREAK])
    return AgentView(profile, state, AgentLoad({Channel.CHAT: rng.randint(0, 2)}), rng.random() * 1000)


def test_index_agrees_with_the_full_scan_on_random_pools() -> None:
    rng = random.Random(7)
    agents = [random_agent(rng, n) for n in range(300)]
    index = AgentIndex()
    for agent in agents:
        index.put(agent)
    queue = QueueSpec("acme", "q", rings=(BullseyeRing(0, 4), BullseyeRing(30, 2)))
    for n in range(200):
        contact = WaitingContact(
            f"c{n}",
            "q",
            Channel.CHAT,
            50,
            rng.choice([1000.0, 960.0]),
            required_skills=frozenset(rng.sample(SKILLS, rng.randint(1, 2))),
            language=rng.choice(["en", "de", "fr"]),
        )
        scanned = choose_agent(contact, queue, agents, 1000.0)
        indexed = index.longest_idle(contact, queue, 1000.0)
        assert (indexed.agent_id, indexed.ring) == (scanned.agent_id, scanned.ring), contact


def test_updates_make_old_entries_stale() -> None:
    index = AgentIndex()
    profile = AgentProfile("a1", skills={"billing": 3}, capacity={Channel.CHAT: 1})
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad(), 0.0))
    index.put(AgentView(AgentProfile("a2", skills={"billing": 3}), AgentState.AVAILABLE, AgentLoad(), 5.0))
    contact = WaitingContact("c1", "q", Channel.CHAT, 50, 10.0, required_skills=frozenset({"billing"}))
    queue = QueueSpec("acme", "q")
    assert index.longest_idle(contact, queue, 10.0).agent_id == "a1"
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad({Channel.CHAT: 1}), 0.0))
    decision = index.longest_idle(contact, queue, 10.0)
    assert decision.agent_id == "a2"
    assert [c.rejected for c in decision.candidates if c.rejected] == ["chat capacity 1 reached"]
    index.remove("a2")
    assert not index.longest_idle(contact, queue, 10.0).matched
