"""Matching a waiting contact to an agent, with a record of why (pure).

Eligibility: the agent serves the queue's brand (or a shared brand, or any brand of a tenant
that shares its agents), has every required skill at the current bullseye ring's minimum
proficiency, speaks the contact's language while the queue's language rule requires it (see
`language_rule`) and has capacity on the channel. Among the eligible, a strategy scores and the
highest score wins (a speaker of the contact's language first, while the rule prefers it):

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

from ccmesh.channels import Channel
from routing.domain.agents import (
    AgentLoad,
    AgentProfile,
    AgentState,
    capacity_refusal,
    channels_with_room,
    occupancy,
)
from routing.domain.language_rule import LanguageMode
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.quick_init import quick_init


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
        # Written out (the dataclass keeps it) to set `room` without a `__post_init__` call, and
        # through the slots' own descriptors (see `quick_init`): two views are made per routing
        # decision.
        _set_profile(self, profile)
        _set_state(self, state)
        _set_load(self, load)
        _set_idle_since(self, idle_since)
        _set_room(self, channels_with_room(profile, state, load))


_set_profile = vars(AgentView)["profile"].__set__
_set_state = vars(AgentView)["state"].__set__
_set_load = vars(AgentView)["load"].__set__
_set_idle_since = vars(AgentView)["idle_since"].__set__
_set_room = vars(AgentView)["room"].__set__


@quick_init
@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: str
    score: float
    rejected: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    contact_id: str
    queue: str
    agent_id: str
    rule: str
    ring: int
    candidates: tuple[Candidate, ...]
    #: The contact's language and how the queue's rule matched it at this wait (`language_rule`):
    #: required, preferred or any, and the index of the rule's step reached (the language ring).
    language: str = ""
    language_mode: str = ""
    language_ring: int = 0

    @property
    def matched(self) -> bool:
        return bool(self.agent_id)

    @property
    def language_rule(self) -> str:
        """E.g. "es preferred (language ring 1)"; empty when the contact has no language."""
        if not self.language:
            return ""
        return f"{self.language} {self.language_mode} (language ring {self.language_ring})"


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


def serves_brand(profile: AgentProfile, queue: QueueSpec) -> bool:
    """Whether the agent's brands let it serve the queue.

    An agent without brands serves every brand; a queue open to all brands (its tenant shares
    one agent pool and the queue does not narrow it) takes any agent of the tenant; otherwise
    the agent must serve the queue's brand or one of the brands it shares with.
    """
    if not queue.brand or queue.all_brands or not profile.brands:
        return True
    return not profile.brands.isdisjoint({queue.brand} | queue.shared_brands)


def refusal(
    agent: AgentView,
    contact: WaitingContact,
    queue: QueueSpec,
    min_proficiency: int,
    *,
    language_required: bool = True,
) -> str | None:
    """Why `agent` may not take `contact` at this ring, or None when it may.

    `language_required` False: the queue only prefers (or ignores) the contact's language now.
    """
    profile = agent.profile
    if not serves_brand(profile, queue):
        return "serves other brands"
    for skill in contact.required_skills | queue.required_skills:
        level = profile.skills.get(skill, 0)
        if level < min_proficiency:
            return f"skill {skill} {level} < {min_proficiency}"
    if language_required and contact.language and contact.language not in profile.languages:
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
    """The best eligible agent for `contact` (or none), and why.

    While the queue's language rule is `preferred`, an eligible agent who speaks the contact's
    language beats every one who does not, whatever their scores.
    """
    waited = now - contact.enqueued_at
    ring = queue.ring_at(waited)
    min_proficiency = queue.rings[ring].min_proficiency
    score = STRATEGIES[queue.strategy]
    language = contact.language
    language_ring = queue.language.step_at(waited) if language else 0
    mode = queue.language.steps[language_ring].mode if language else LanguageMode.ANY
    required = mode is LanguageMode.REQUIRED
    prefers = mode is LanguageMode.PREFERRED
    candidates: list[Candidate] = []
    speakers: set[str] = set()
    rejected: list[Candidate] = []
    preferred: Candidate | None = None
    for agent in agents:
        reason = refusal(agent, contact, queue, min_proficiency, language_required=required)
        agent_id = agent.profile.agent_id
        if reason is not None:
            if len(rejected) < keep_rejected:
                rejected.append(Candidate(agent_id, 0.0, reason))
            continue
        candidate = Candidate(agent_id, score(agent, contact, now))
        candidates.append(candidate)
        if prefers and language in agent.profile.languages:
            speakers.add(agent_id)
        if agent_id == contact.preferred_agent:
            preferred = candidate

    def decided(agent_id: str, rule: str, listed: list[Candidate]) -> Decision:
        return Decision(
            contact.contact_id,
            queue.name,
            agent_id,
            rule,
            ring,
            tuple(listed),
            language,
            mode.value if language else "",
            language_ring,
        )

    if contact.preferred_agent and waited < queue.preferred_agent_timeout_seconds:
        # The customer's last agent gets the contact if free; otherwise it waits for them until
        # the timeout (then any agent may take it).
        if preferred is not None:
            return decided(preferred.agent_id, "preferred_agent", candidates + rejected)
        return decided("", "waiting_for_preferred_agent", candidates + rejected)
    if not candidates:
        return decided("", "no_eligible_agent", rejected)
    best = max(candidates, key=lambda c: (c.agent_id in speakers, c.score, c.agent_id))
    return decided(best.agent_id, queue.strategy, candidates + rejected)
