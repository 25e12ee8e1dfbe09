"""Matching a waiting contact to an agent, with a record of why (pure).

Eligibility: the agent serves the queue's brand (or a shared brand), has every required skill
at the current bullseye ring's minimum proficiency, speaks the contact's language and has
capacity on the channel. Among the eligible, a strategy scores and the highest score wins:

- `longest_idle`: seconds since the agent last finished or was offered work;
- `most_skilled`: mean proficiency in the required skills;
- `least_occupied`: 1 - occupancy.

A preferred agent (the customer's last agent) wins outright while the contact has waited less
than the queue's preferred-agent timeout; until then the contact waits for them. Every decision returns a
`Decision` listing candidates, the rule that won and the scores, so "why this agent" is
answerable through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from routing.domain.agents import (
    AgentLoad,
    AgentProfile,
    AgentState,
    Channel,
    capacity_refusal,
    channels_with_room,
    occupancy,
)
from routing.domain.queueing import QueueSpec, WaitingContact

_set = object.__setattr__  # how a frozen dataclass sets its own fields


@dataclass(frozen=True, slots=True)
class AgentView:
    """What matching needs to know about one agent right now."""

    profile: AgentProfile
    state: AgentState
    load: AgentLoad
    idle_since: float
    #: The channels the agent can take one more contact on. Computed with the view: the index
    #: needs it for every view it is given (a `cached_property` costs more to look up on 3.11).
    room: tuple[Channel, ...] = field(init=False, repr=False, compare=False)

    def __init__(self, profile: AgentProfile, state: AgentState, load: AgentLoad, idle_since: float) -> None:
        # Written out (the dataclass keeps it) to set `room` without a `__post_init__` call: two
        # views are made per routing decision.
        _set(self, "profile", profile)
        _set(self, "state", state)
        _set(self, "load", load)
        _set(self, "idle_since", idle_since)
        _set(self, "room", channels_with_room(profile, state, load))


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: str
    score: float
    rejected: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    contact_id: str
    queue: str
    agent_id: str
    rule: str
    ring: int
    candidates: tuple[Candidate, ...]

    @property
    def matched(self) -> bool:
        return bool(self.agent_id)


Score = Callable[[AgentView, WaitingContact, float], float]


def _longest_idle(agent: AgentView, contact: WaitingContact, now: float) -> float:
    return now - agent.idle_since


def _most_skilled(agent: AgentView, contact: WaitingContact, now: float) -> float:
    skills = contact.required_skills
    if not skills:
        return 0.0
    return sum(agent.profile.skills.get(s, 0) for s in skills) / len(skills)


def _least_occupied(agent: AgentView, contact: WaitingContact, now: float) -> float:
    return 1.0 - occupancy(agent.profile, agent.load)


STRATEGIES: dict[str, Score] = {
    "longest_idle": _longest_idle,
    "most_skilled": _most_skilled,
    "least_occupied": _least_occupied,
}


def refusal(agent: AgentView, contact: WaitingContact, queue: QueueSpec, min_proficiency: int) -> str | None:
    """Why `agent` may not take `contact` at this ring, or None when it may."""
    profile = agent.profile
    if queue.brand and profile.brands and not (profile.brands & ({queue.brand} | queue.shared_brands)):
        return "serves other brands"
    for skill in contact.required_skills | queue.required_skills:
        level = profile.skills.get(skill, 0)
        if level < min_proficiency:
            return f"skill {skill} {level} < {min_proficiency}"
    if contact.language and contact.language not in profile.languages:
        return f"does not speak {contact.language}"
    return capacity_refusal(profile, agent.state, agent.load, contact.channel)


def choose_agent(
    contact: WaitingContact,
    queue: QueueSpec,
    agents: Iterable[AgentView],
    now: float,
    *,
    keep_rejected: int = 20,
) -> Decision:
    """The best eligible agent for `contact` (or none), and why."""
    waited = now - contact.enqueued_at
    ring = queue.ring_at(waited)
    min_proficiency = queue.rings[ring].min_proficiency
    score = STRATEGIES[queue.strategy]
    candidates: list[Candidate] = []
    rejected: list[Candidate] = []
    preferred: Candidate | None = None
    for agent in agents:
        reason = refusal(agent, contact, queue, min_proficiency)
        agent_id = agent.profile.agent_id
        if reason is not None:
            if len(rejected) < keep_rejected:
                rejected.append(Candidate(agent_id, 0.0, reason))
            continue
        candidate = Candidate(agent_id, score(agent, contact, now))
        candidates.append(candidate)
        if agent_id == contact.preferred_agent:
            preferred = candidate
    if contact.preferred_agent and waited < queue.preferred_agent_timeout_seconds:
        # The customer's last agent gets the contact if free; otherwise it waits for them until
        # the timeout (then any agent may take it).
        if preferred is not None:
            return Decision(
                contact.contact_id,
                queue.name,
                preferred.agent_id,
                "preferred_agent",
                ring,
                tuple(candidates + rejected),
            )
        return Decision(
            contact.contact_id,
            queue.name,
            "",
            "waiting_for_preferred_agent",
            ring,
            tuple(candidates + rejected),
        )
    if not candidates:
        return Decision(contact.contact_id, queue.name, "", "no_eligible_agent", ring, tuple(rejected))
    best = max(candidates, key=lambda c: (c.score, c.agent_id))
    return Decision(
        contact.contact_id, queue.name, best.agent_id, queue.strategy, ring, tuple(candidates + rejected)
    )
