"""The agent index stays in step with the full scan through any sequence of updates: agents
idling again (moved to the end of their buckets), out-of-order idle times (the side heap),
gaining and losing room per channel, skill changes and removals."""

import random

from ccmesh.channels import Channel
from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AgentLoad, AgentProfile, AgentState
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import BullseyeRing, QueueSpec, WaitingContact

SKILLS = ["billing", "tech", "sales"]
STATES = [AgentState.AVAILABLE] * 3 + [AgentState.BUSY, AgentState.BREAK]


def random_profile(rng: random.Random, agent_id: str) -> AgentProfile:
    return AgentProfile(
        agent_id,
        skills={s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(1, 3))},
        languages=frozenset(rng.sample(["en", "de"], rng.randint(1, 2))),
        capacity={Channel.VOICE: 1, Channel.WEBCHAT: 2},
        voice_blocks_other_work=rng.random() < 0.7,
    )


def test_index_agrees_with_the_full_scan_after_every_kind_of_update() -> None:
    for seed in range(6):
        rng = random.Random(seed)
        profiles = [random_profile(rng, f"a{n}") for n in range(60)]
        index = AgentIndex()
        views: dict[str, AgentView] = {}
        now = 0.0
        for step in range(2000):
            profile = rng.choice(profiles)
            agent_id = profile.agent_id
            if rng.random() < 0.05 and agent_id in views:
                index.remove(agent_id)
                del views[agent_id]
                continue
            if rng.random() < 0.03:
                profile = random_profile(rng, agent_id)  # reconfigured: other skills
            now += 1
            idle = now if rng.random() < 0.8 else rng.random() * now  # some arrive out of order
            if rng.random() < 0.3 and agent_id in views:
                idle = views[agent_id].idle_since  # a change of load or state alone
            channels = rng.sample([Channel.WEBCHAT, Channel.VOICE], rng.randint(0, 2))
            load = AgentLoad({c: rng.randint(0, 2) for c in channels})
            view = AgentView(profile, rng.choice(STATES), load, float(idle))
            index.put(view)
            views[agent_id] = view
            if step % 5:
                continue
            queue = QueueSpec(
                "acme",
                "q",
                rings=(BullseyeRing(0, rng.randint(1, 5)), BullseyeRing(30, 1)),
                required_skills=frozenset(rng.sample(SKILLS, rng.randint(0, 2))),
            )
            channel = rng.choice([Channel.WEBCHAT, Channel.VOICE])
            contact = WaitingContact(
                "c", "q", channel, 50, now - rng.choice([0, 40]), language=rng.choice(["", "en", "de"])
            )
            scanned = choose_agent(contact, queue, list(views.values()), now)
            indexed = index.longest_idle(contact, queue, now)
            assert indexed.agent_id == scanned.agent_id, (seed, step)
            assert index.has_room(channel) == any(channel in v.room for v in views.values())
