"""An index of routable agents for fast longest-idle decisions at 100k agents (pure).

`choose_agent` looks at every agent, which is right for explaining a decision over a queue's
pool of a few hundred agents but too slow for a region with 100,000. The index keeps, per
(skill, minimum proficiency), a heap of agents with that skill at that level or better, ordered
by how long they have been idle. A decision peeks the heap of the contact's rarest required
skill at the current bullseye ring's level and walks down only past agents that fail another
check (language, brand, other skills, capacity), so its cost is O(log n) plus the agents it
had to skip, which the returned `Decision` lists as rejected candidates.

Entries are invalidated lazily: an entry is current while the agent is indexed with the same
idle time it was pushed with; a change of load alone (a reservation) pushes nothing, and stale
heap entries are dropped when they reach the top.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from routing.domain.matching import AgentView, Candidate, Decision, refusal
from routing.domain.queueing import QueueSpec, WaitingContact

_ANY_SKILL = ""


@dataclass
class AgentIndex:
    agents: dict[str, AgentView] = field(default_factory=dict)
    _heaps: dict[tuple[str, int], list[tuple[float, str]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.agents)

    def put(self, agent: AgentView) -> None:
        """Add or update an agent (after any change of state, load or idle time)."""
        agent_id = agent.profile.agent_id
        previous = self.agents.get(agent_id)
        self.agents[agent_id] = agent
        if (
            previous is not None
            and previous.idle_since == agent.idle_since
            and previous.profile.skills == agent.profile.skills
        ):
            return  # its heap entries are still current
        entry = (agent.idle_since, agent_id)
        heapq.heappush(self._heaps.setdefault((_ANY_SKILL, 1), []), entry)
        for skill, level in agent.profile.skills.items():
            for at_least in range(1, level + 1):
                heapq.heappush(self._heaps.setdefault((skill, at_least), []), entry)

    def remove(self, agent_id: str) -> None:
        self.agents.pop(agent_id, None)

    def _heap_for(self, skills: frozenset[str], level: int) -> list[tuple[float, str]]:
        if not skills:
            return self._heaps.get((_ANY_SKILL, 1), [])
        heaps = [self._heaps.get((skill, level), []) for skill in skills]
        return min(heaps, key=len)

    def longest_idle(
        self, contact: WaitingContact, queue: QueueSpec, now: float, *, max_skipped: int = 1000
    ) -> Decision:
        """The longest-idle eligible agent, as `choose_agent` with the `longest_idle` strategy would pick."""
        ring = queue.ring_at(now - contact.enqueued_at)
        level = queue.rings[ring].min_proficiency
        heap = self._heap_for(contact.required_skills | queue.required_skills, level)
        skipped: list[tuple[float, str]] = []
        rejected: list[Candidate] = []
        winner: Candidate | None = None
        while heap and len(skipped) < max_skipped:
            idle_since, agent_id = heap[0]
            current = self.agents.get(agent_id)
            if current is None or current.idle_since != idle_since:
                heapq.heappop(heap)  # stale: the agent changed or left since this entry was pushed
                continue
            reason = refusal(self.agents[agent_id], contact, queue, level)
            if reason is None:
                winner = Candidate(agent_id, now - idle_since)
                break
            rejected.append(Candidate(agent_id, 0.0, reason))
            skipped.append(heapq.heappop(heap))
        for entry in skipped:
            heapq.heappush(heap, entry)
        if winner is None:
            return Decision(contact.contact_id, queue.name, "", "no_eligible_agent", ring, tuple(rejected))
        return Decision(
            contact.contact_id, queue.name, winner.agent_id, "longest_idle", ring, (winner, *rejected)
        )
