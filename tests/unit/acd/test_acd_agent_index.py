"""The agent index picks what the full scan picks, and skips stale or ineligible agents."""

import random

from ccmesh.channels import Channel
from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AgentLoad, AgentProfile, AgentState
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import BullseyeRing, QueueSpec, WaitingContact

SKILLS = ["billing", "tech", "sales", "claims"]


def random_agent(rng: random.Random, n: int) -> AgentView:
    skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))}
    profile = AgentProfile(
        f"a{n}",
        skills=skills,
        languages=frozenset(rng.sample(["en", "de", "fr"], rng.randint(1, 2))),
        capacity={Channel.VOICE: 1, Channel.WEBCHAT: 2},
    )
    state = rng.choice([AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.BREAK])
    return AgentView(profile, state, AgentLoad({Channel.WEBCHAT: rng.randint(0, 2)}), rng.random() * 1000)


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
            Channel.WEBCHAT,
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
    profile = AgentProfile("a1", skills={"billing": 3}, capacity={Channel.WEBCHAT: 1})
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad(), 0.0))
    index.put(AgentView(AgentProfile("a2", skills={"billing": 3}), AgentState.AVAILABLE, AgentLoad(), 5.0))
    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 10.0, required_skills=frozenset({"billing"}))
    queue = QueueSpec("acme", "q")
    assert index.longest_idle(contact, queue, 10.0).agent_id == "a1"
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad({Channel.WEBCHAT: 1}), 0.0))
    decision = index.longest_idle(contact, queue, 10.0)
    # a1 is full on chat: out of the chat buckets, so the walk does not even meet it.
    assert decision.agent_id == "a2"
    assert [c.agent_id for c in decision.candidates] == ["a2"]
    index.remove("a2")
    assert not index.longest_idle(contact, queue, 10.0).matched


def test_index_agrees_with_the_full_scan_after_random_updates_in_any_order() -> None:
    rng = random.Random(11)
    agents = {f"a{n}": random_agent(rng, n) for n in range(200)}
    index = AgentIndex()
    for agent in agents.values():
        index.put(agent)
    queue = QueueSpec("acme", "q", rings=(BullseyeRing(0, 3), BullseyeRing(30, 1)))
    for n in range(400):
        # Updates: new idle times (mostly later, some earlier: out of order), new skills, leaving.
        agent_id = f"a{rng.randrange(200)}"
        choice = rng.random()
        if choice < 0.1:
            index.remove(agent_id)
            agents.pop(agent_id, None)
        elif choice < 0.2:
            agents[agent_id] = random_agent(rng, int(agent_id[1:]))
            index.put(agents[agent_id])
        elif agent_id in agents:
            old = agents[agent_id]
            idle = 1000.0 + n if rng.random() < 0.8 else rng.random() * 1000
            agents[agent_id] = AgentView(old.profile, old.state, old.load, idle)
            index.put(agents[agent_id])
        if n % 50 == 0:
            index.compact()
        contact = WaitingContact(
            f"c{n}",
            "q",
            Channel.WEBCHAT,
            50,
            rng.choice([2000.0, 1960.0]),
            required_skills=frozenset(rng.sample(SKILLS, rng.randint(0, 2))),
            language=rng.choice(["en", "de", "fr"]),
        )
        scanned = choose_agent(contact, queue, list(agents.values()), 2000.0)
        indexed = index.longest_idle(contact, queue, 2000.0)
        assert (indexed.agent_id, indexed.ring) == (scanned.agent_id, scanned.ring), contact
    assert len(index) == len(agents)


def test_ties_go_to_the_greatest_agent_id_as_in_the_full_scan() -> None:
    views = [
        AgentView(AgentProfile(agent_id, skills={"billing": level}), AgentState.AVAILABLE, AgentLoad(), 5.0)
        for agent_id, level in (("a1", 5), ("a3", 3), ("a2", 4))
    ]
    index = AgentIndex()
    for view in views:
        index.put(view)
    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 10.0, required_skills=frozenset({"billing"}))
    queue = QueueSpec("acme", "q")
    assert index.longest_idle(contact, queue, 10.0).agent_id == "a3"
    assert choose_agent(contact, queue, views, 10.0).agent_id == "a3"


def test_excluded_agents_are_passed_over_without_being_listed() -> None:
    index = AgentIndex()
    for n, idle in ((1, 1.0), (2, 2.0)):
        index.put(AgentView(AgentProfile(f"a{n}"), AgentState.AVAILABLE, AgentLoad(), idle))
    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 10.0)
    decision = index.longest_idle(contact, QueueSpec("acme", "q"), 10.0, exclude={"a1"})
    assert decision.agent_id == "a2"
    assert [c.agent_id for c in decision.candidates] == ["a2"]
    assert not index.longest_idle(contact, QueueSpec("acme", "q"), 10.0, exclude={"a1", "a2"}).matched


def test_a_skill_change_moves_the_agent_between_buckets() -> None:
    index = AgentIndex()
    index.put(AgentView(AgentProfile("a1", skills={"billing": 5}), AgentState.AVAILABLE, AgentLoad(), 1.0))
    billing = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 10.0, required_skills=frozenset({"billing"}))
    tech = WaitingContact("c2", "q", Channel.WEBCHAT, 50, 10.0, required_skills=frozenset({"tech"}))
    queue = QueueSpec("acme", "q")
    assert index.longest_idle(billing, queue, 10.0).agent_id == "a1"
    index.put(AgentView(AgentProfile("a1", skills={"tech": 2}), AgentState.AVAILABLE, AgentLoad(), 1.0))
    assert not index.longest_idle(billing, queue, 10.0).matched
    assert index.longest_idle(tech, queue, 10.0).agent_id == "a1"


def test_agents_without_room_are_never_walked_however_many_and_however_long_idle() -> None:
    # 5,000 agents full on chat since long ago would be at the front of every longest-idle walk
    # (and past the walk's skip limit); indexed by room per channel, they are not in it at all.
    index = AgentIndex()
    full = AgentLoad({Channel.WEBCHAT: 2})
    for n in range(5000):
        profile = AgentProfile(f"busy{n}", skills={"billing": 3}, capacity={Channel.WEBCHAT: 2})
        index.put(AgentView(profile, AgentState.BUSY, full, float(n)))
    free = AgentProfile("free", skills={"billing": 3}, capacity={Channel.WEBCHAT: 2})
    index.put(AgentView(free, AgentState.AVAILABLE, AgentLoad(), 9000.0))
    contact = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 9999.0, required_skills=frozenset({"billing"}))
    decision = index.longest_idle(contact, QueueSpec("acme", "q"), 10000.0)
    assert (decision.agent_id, [c.agent_id for c in decision.candidates]) == ("free", ["free"])
    assert index.has_room(Channel.WEBCHAT) and set(index.free[Channel.WEBCHAT]) == {"free"}
    assert not index.has_room(Channel.WEBCHAT, exclude={"free"})

    # Completing a contact gives a busy agent room again: it is back in the walk, by idle time.
    index.put(AgentView(index.agents["busy7"].profile, AgentState.BUSY, AgentLoad({Channel.WEBCHAT: 1}), 7.0))
    assert index.longest_idle(contact, QueueSpec("acme", "q"), 10000.0).agent_id == "busy7"


def test_a_voice_contact_takes_the_agent_out_of_every_channel_it_blocks() -> None:
    index = AgentIndex()
    profile = AgentProfile("a1", capacity={Channel.VOICE: 1, Channel.WEBCHAT: 3})
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad(), 0.0))
    assert {c for c in Channel if "a1" in index.free[c]} == {Channel.VOICE, Channel.WEBCHAT}
    index.put(AgentView(profile, AgentState.BUSY, AgentLoad({Channel.VOICE: 1}), 0.0))
    assert not any("a1" in index.free[c] for c in Channel)
    chat = WaitingContact("c1", "q", Channel.WEBCHAT, 50, 0.0)
    assert not index.longest_idle(chat, QueueSpec("acme", "q"), 1.0).matched
    index.put(AgentView(profile, AgentState.AVAILABLE, AgentLoad(), 5.0))
    assert index.longest_idle(chat, QueueSpec("acme", "q"), 6.0).agent_id == "a1"


def test_index_agrees_with_the_full_scan_on_brands_languages_and_several_skills() -> None:
    # The walk checks brand, language and the skills its buckets do not prove inline; the full
    # scan's `refusal` is the reference for every one of them.
    rng = random.Random(11)
    agents = []
    for n in range(400):
        agent = random_agent(rng, n)
        brands = frozenset(rng.sample(["retail", "bank", "travel"], rng.randint(0, 2)))
        profile = AgentProfile(
            agent.profile.agent_id,
            skills=agent.profile.skills,
            languages=agent.profile.languages,
            brands=brands,
            capacity=agent.profile.capacity,
        )
        agents.append(AgentView(profile, agent.state, agent.load, agent.idle_since))
    index = AgentIndex()
    for agent in agents:
        index.put(agent)
    queues = [
        QueueSpec("acme", "q", brand="bank", rings=(BullseyeRing(0, 3), BullseyeRing(30, 1))),
        QueueSpec("acme", "q", brand="retail", shared_brands=frozenset({"travel"})),
        QueueSpec("acme", "q", required_skills=frozenset({"claims"})),
    ]
    for n in range(300):
        queue = queues[n % len(queues)]
        contact = WaitingContact(
            f"c{n}",
            "q",
            rng.choice([Channel.WEBCHAT, Channel.VOICE]),
            50,
            rng.choice([1000.0, 960.0]),
            required_skills=frozenset(rng.sample(SKILLS, rng.randint(0, 3))),
            language=rng.choice(["", "en", "de", "fr"]),
        )
        scanned = choose_agent(contact, queue, agents, 1000.0)
        indexed = index.longest_idle(contact, queue, 1000.0)
        assert (indexed.agent_id, indexed.ring) == (scanned.agent_id, scanned.ring), (contact, queue)
