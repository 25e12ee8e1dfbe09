"""An index of routable agents for fast longest-idle decisions at 100k agents (pure).

`choose_agent` looks at every agent, which is right for explaining a decision over a queue's
pool of a few hundred agents but too slow for a region with 100,000. The index keeps, per
(skill, proficiency), a bucket of the agents with that skill at exactly that level (so an agent
is in one bucket per skill, plus the bucket of all agents), ordered by how long they have been
idle. A decision walks the buckets of the contact's rarest required skill at the current
bullseye ring's level and above, merged, from the longest-idle end, and stops at the first agent
that passes every other check (language, brand, other skills, capacity); its cost does not
depend on the number of agents, only on the agents it had to skip, which the returned
`Decision` lists as rejected candidates (up to 20).

A bucket is an insertion-ordered map: an agent becoming idle is idle since "now", later than
everyone already there, so it is moved to the end in O(1) and the longest idle is at the front.
The rare agent whose idle time is earlier than the bucket's newest (an update that arrives out
of order) goes to a side heap that the walk merges in; when many did (a bucket filled in random
order) the bucket is sorted once. An agent is in each bucket once, so there are no stale
entries to skip at the front, and a change of load alone (a reservation) moves nothing.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from routing.domain.agents import AgentState
from routing.domain.matching import AgentView, Candidate, Decision, refusal
from routing.domain.queueing import QueueSpec, WaitingContact

_ANY_SKILL = ""

#: States in which an agent is indexed (a busy agent may still have room on another channel).
ROUTABLE_STATES = frozenset({AgentState.AVAILABLE, AgentState.BUSY})
_KEEP_REJECTED = 20


class _Bucket:
    """Agents ordered by idle-since, oldest first; ties in any order (the walk settles them)."""

    __slots__ = ("late", "late_ids", "order", "tail")

    def __init__(self) -> None:
        self.order: OrderedDict[str, float] = OrderedDict()
        self.tail = -math.inf
        self.late: list[tuple[float, str]] = []
        self.late_ids: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.order) + len(self.late_ids)

    def put(self, agent_id: str, idle_since: float) -> None:
        self.discard(agent_id)
        if idle_since >= self.tail:
            self.order[agent_id] = idle_since
            self.tail = idle_since
            return
        self.late_ids[agent_id] = idle_since
        heapq.heappush(self.late, (idle_since, agent_id))
        if len(self.late) > 2 * len(self.late_ids) + 64:
            late_ids = self.late_ids
            self.late = [e for e in self.late if late_ids.get(e[1]) == e[0]]
            heapq.heapify(self.late)

    def discard(self, agent_id: str) -> None:
        if self.order.pop(agent_id, None) is not None and not self.order:
            self.tail = -math.inf
        if self.late_ids.pop(agent_id, None) is not None and not self.late_ids:
            self.late.clear()

    def _fold(self) -> None:
        entries = sorted(
            [(idle, a) for a, idle in self.order.items()] + [(i, a) for a, i in self.late_ids.items()]
        )
        self.order = OrderedDict((a, idle) for idle, a in entries)
        self.tail = entries[-1][0] if entries else -math.inf
        self.late, self.late_ids = [], {}

    def walk(self) -> Iterator[tuple[float, str]]:
        """(idle_since, agent_id), longest idle first (the bucket must not change meanwhile)."""
        if self.late_ids and len(self.late_ids) > 32 and len(self.late_ids) * 8 > len(self.order):
            self._fold()  # many arrived out of order (a bucket filled in random order): sort once
        if not self.late_ids:
            for agent_id, idle_since in self.order.items():
                yield idle_since, agent_id
            return
        late, valid = self.late, self.late_ids
        while late and valid.get(late[0][1]) != late[0][0]:
            heapq.heappop(late)  # stale: the agent moved or left since this entry was pushed
        in_order = ((idle, a) for a, idle in self.order.items())
        yield from heapq.merge(in_order, _in_order(late, valid))


def _in_order(heap: list[tuple[float, str]], valid: dict[str, float]) -> Iterator[tuple[float, str]]:
    """The current entries of a heap in ascending order, lazily and without changing it."""
    frontier = [(heap[0], 0)] if heap else []
    while frontier:
        entry, i = heapq.heappop(frontier)
        if valid.get(entry[1]) == entry[0]:
            yield entry
        for child in (2 * i + 1, 2 * i + 2):
            if child < len(heap):
                heapq.heappush(frontier, (heap[child], child))


def _merged(buckets: list[_Bucket]) -> Iterator[tuple[float, str]]:
    """The entries of several buckets, longest idle first."""
    walks = [b.walk() for b in buckets]
    heads: list[tuple[float, str, int]] = []
    for i, walk in enumerate(walks):
        first = next(walk, None)
        if first is not None:
            heads.append((first[0], first[1], i))
    heapq.heapify(heads)
    while heads:
        idle_since, agent_id, i = heads[0]
        following = next(walks[i], None)
        if following is None:
            heapq.heappop(heads)
        else:
            heapq.heapreplace(heads, (following[0], following[1], i))
        yield idle_since, agent_id


def _bucket_keys(agent: AgentView) -> list[tuple[str, int]]:
    return [(_ANY_SKILL, 0), *agent.profile.skills.items()]


@dataclass
class AgentIndex:
    agents: dict[str, AgentView] = field(default_factory=dict)
    _buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.agents)

    def put(self, agent: AgentView) -> None:
        """Add or update an agent (after any change of state, load or idle time)."""
        agent_id = agent.profile.agent_id
        previous = self.agents.get(agent_id)
        self.agents[agent_id] = agent
        if previous is not None:
            same_skills = previous.profile.skills is agent.profile.skills or (
                previous.profile.skills == agent.profile.skills
            )
            if same_skills and previous.idle_since == agent.idle_since:
                return  # its bucket positions are still current
            if not same_skills:
                self._discard(previous)
        for key in _bucket_keys(agent):
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket()
            bucket.put(agent_id, agent.idle_since)

    def compact(self) -> None:
        """Sort every bucket now (after a bulk load in random order) instead of on first use."""
        for bucket in self._buckets.values():
            if bucket.late_ids:
                bucket._fold()

    def remove(self, agent_id: str) -> None:
        previous = self.agents.pop(agent_id, None)
        if previous is not None:
            self._discard(previous)

    def _discard(self, agent: AgentView) -> None:
        for key in _bucket_keys(agent):
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.discard(agent.profile.agent_id)
                if not bucket:
                    del self._buckets[key]

    def _buckets_for(self, skills: frozenset[str], level: int) -> list[_Bucket]:
        """The buckets holding every agent with the rarest of `skills` at `level` or better."""
        if not skills:
            bucket = self._buckets.get((_ANY_SKILL, 0))
            return [bucket] if bucket is not None else []
        buckets = self._buckets
        rarest: list[_Bucket] = []
        rarest_size = -1
        for skill in skills:
            found = [b for b in (buckets.get((skill, at)) for at in range(level, 6)) if b is not None]
            if not found:
                return []  # nobody has this skill at this level
            if len(skills) == 1:
                return found
            size = sum(len(b) for b in found)
            if rarest_size < 0 or size < rarest_size:
                rarest, rarest_size = found, size
        return rarest

    def longest_idle(
        self,
        contact: WaitingContact,
        queue: QueueSpec,
        now: float,
        *,
        max_skipped: int = 1000,
        exclude: Collection[str] = (),
    ) -> Decision:
        """The longest-idle eligible agent, as `choose_agent` with the `longest_idle` strategy would pick.

        Agents in `exclude` are passed over without being listed (as if not in the pool); ties
        in idle time go to the greatest agent id, as in `choose_agent`.
        """
        ring = queue.ring_at(now - contact.enqueued_at)
        level = queue.rings[ring].min_proficiency
        buckets = self._buckets_for(contact.required_skills | queue.required_skills, level)
        walk = buckets[0].walk() if len(buckets) == 1 else _merged(buckets)
        rejected: list[Candidate] = []
        winner: tuple[float, str] | None = None
        skipped = 0
        if buckets:
            for idle_since, agent_id in walk:
                if winner is not None:
                    if idle_since != winner[0]:
                        break
                elif skipped >= max_skipped:
                    break
                if agent_id in exclude:
                    continue
                reason = refusal(self.agents[agent_id], contact, queue, level)
                if reason is None:
                    if winner is None or agent_id > winner[1]:
                        winner = (idle_since, agent_id)
                    continue
                if winner is None:
                    skipped += 1
                    if len(rejected) < _KEEP_REJECTED:
                        rejected.append(Candidate(agent_id, 0.0, reason))
        if winner is None:
            return Decision(contact.contact_id, queue.name, "", "no_eligible_agent", ring, tuple(rejected))
        chosen = Candidate(winner[1], now - winner[0])
        return Decision(
            contact.contact_id, queue.name, chosen.agent_id, "longest_idle", ring, (chosen, *rejected)
        )
