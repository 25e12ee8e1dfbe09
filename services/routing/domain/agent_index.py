"""An index of routable agents so that a routing decision's cost does not depend on the number
of agents (100k in a region), only on the agents it had to skip.

`choose_agent` looks at every agent, which is right for explaining a decision over a queue's
pool of a few hundred agents but too slow for a region with 100,000. The index keeps, per
(channel, skill, proficiency), a bucket of the agents that have room on that channel now and
have that skill at exactly that level (so an agent is in one bucket per skill, plus the bucket of
all agents, for each channel it has room on), ordered by how long they have been idle. An agent
at capacity on a channel (or on a voice contact that blocks other work) is in none of that
channel's buckets, so busy agents, whose idle time is old and who would otherwise sit at the
front of every walk, are never touched. `free` answers "has anyone room on this channel?" in
O(1) for the routing pass.

A decision walks the buckets of the contact's channel and rarest required skill at the current
bullseye ring's level and above, merged, from the longest-idle end, and stops at the first agent
that passes every other check (language, brand, other skills); the agents it skipped are listed
in the returned `Decision` as rejected candidates (up to 20).

A bucket is an insertion-ordered set of agent ids: an agent becoming idle is idle since "now",
later than everyone already there, so it is moved to the end in O(1) and the longest idle is at
the front; the idle times themselves are read from the agents' views, which the walk reads
anyway. The rare agent whose idle time is earlier than the bucket's newest (an update that
arrives out of order, or an agent regaining room without a new idle time) goes to a side heap
that the walk merges in; when many did (a bucket filled in random order) the bucket is sorted
once. An agent is in each bucket once, so there are no stale entries to skip at the front.

Cost per decision (the routing bench's figure): the walk usually looks at the heads of three
to five buckets and one or two agents; an offer and its release each touch the agent's buckets
of the channels whose room changed (a chat offer: out of three voice buckets; its release: back
into them and to the end of three chat buckets). Nothing is allocated per agent in a bucket and
no explanation beyond the `Decision` itself (winner and skipped agents) is built. The values
it handles (views, profiles, ledgers, contacts) are slotted frozen dataclasses: smaller, so more
of a large region's agents stay in the CPU's caches, and quicker to build and read.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ccmesh.channels import Channel
from routing.domain.agents import AgentState
from routing.domain.language_rule import LanguageMode
from routing.domain.matching import AgentView, Candidate, Decision, refusal
from routing.domain.queueing import QueueSpec, WaitingContact

_ANY_SKILL = ("", 0)

#: States in which an agent is indexed (a busy agent may still have room on another channel).
ROUTABLE_STATES = frozenset({AgentState.AVAILABLE, AgentState.BUSY})
_KEEP_REJECTED = 20
_REQUIRED = LanguageMode.REQUIRED.value
#: While a language is only preferred: how many more agents a walk looks at for a speaker once
#: it has found an eligible agent who does not speak it (the decision's cost stays bounded).
_PREFERRED_LOOKAHEAD = 64

#: (idle_since, agent_id), as a walk yields agents: tuples compare by idle time, then id.
_Entry = tuple[float, str]
_idle_since = operator.attrgetter("idle_since")


class _Bucket:
    """Agents ordered by idle-since, oldest first; ties in any order (the walk settles them).

    `order` is an ordered set of agent ids (the value is always True). It holds no idle times:
    those are the agents' views' own, which a walk reads anyway to check each agent, so an
    agent becoming idle again is a `move_to_end` of its id, without touching a value.
    """

    __slots__ = ("late", "late_ids", "order", "tail")

    def __init__(self) -> None:
        self.order: OrderedDict[str, bool] = OrderedDict()
        self.tail = -math.inf
        self.late: list[_Entry] = []
        self.late_ids: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.order) + len(self.late_ids)

    def put(self, agent_id: str, idle_since: float) -> None:
        self.discard(agent_id)
        self.insert(agent_id, idle_since)

    def insert(self, agent_id: str, idle_since: float) -> None:
        """`put` for an agent known not to be in the bucket (saves two look-ups per bucket)."""
        if idle_since >= self.tail:
            self.order[agent_id] = True
            self.tail = idle_since
            return
        self.late_ids[agent_id] = idle_since
        heapq.heappush(self.late, (idle_since, agent_id))
        if len(self.late) > 2 * len(self.late_ids) + 64:
            late_ids = self.late_ids
            self.late = [e for e in self.late if late_ids.get(e[1]) == e[0]]
            heapq.heapify(self.late)

    def discard(self, agent_id: str) -> None:
        if self.order.pop(agent_id, False):
            if not self.order:
                self.tail = -math.inf
        elif self.late_ids and self.late_ids.pop(agent_id, None) is not None and not self.late_ids:
            self.late.clear()

    def fold(self, agents: Mapping[str, AgentView]) -> None:
        """Sort the bucket once (after many arrived out of order: a bucket filled in random order)."""
        entries = sorted([*_entries(self.order, agents), *((i, a) for a, i in self.late_ids.items())])
        self.order = OrderedDict.fromkeys((agent_id for _, agent_id in entries), True)
        self.tail = entries[-1][0] if entries else -math.inf
        self.late, self.late_ids = [], {}

    def walk(self, agents: Mapping[str, AgentView]) -> Iterator[str]:
        """The agents' ids, longest idle first (the bucket must not change meanwhile).

        Without out-of-order arrivals (the usual case) this is the ordered set's own iterator.
        """
        if self.late_ids and len(self.late_ids) > 32 and len(self.late_ids) * 8 > len(self.order):
            self.fold(agents)
        if not self.late_ids:
            return iter(self.order)
        late, valid = self.late, self.late_ids
        while late and valid.get(late[0][1]) != late[0][0]:
            heapq.heappop(late)  # stale: the agent moved or left since this entry was pushed
        merged = heapq.merge(_entries(self.order, agents), _in_order(late, valid))
        return map(operator.itemgetter(1), merged)


def _entries(order: OrderedDict[str, bool], agents: Mapping[str, AgentView]) -> Iterator[_Entry]:
    """(idle_since, agent_id) for the ids of `order`, in order: two iterators over it in step,
    one mapped to the agents' idle times, all in C (no Python frame per agent)."""
    return zip(map(_idle_since, map(agents.__getitem__, order)), order, strict=True)


def _in_order(heap: list[_Entry], valid: dict[str, float]) -> Iterator[_Entry]:
    """The current entries of a heap in ascending order, lazily and without changing it."""
    frontier = [(heap[0], 0)] if heap else []
    while frontier:
        entry, i = heapq.heappop(frontier)
        if valid.get(entry[1]) == entry[0]:
            yield entry
        for child in (2 * i + 1, 2 * i + 2):
            if child < len(heap):
                heapq.heappush(frontier, (heap[child], child))


def _walk_of(buckets: Iterable[_Bucket | None], agents: Mapping[str, AgentView]) -> Iterator[str] | None:
    """The ids in several buckets (None: a level never made), longest idle first, or None when
    all are empty (an agent is in one of them at most: one bucket per level of a skill); ties in
    any order. Empty buckets are passed over while the walks are started, in the same loop."""
    walks: list[Iterator[str]] = []
    heads: list[tuple[float, str, int]] = []
    for bucket in buckets:
        if bucket is None:
            continue
        if bucket.late_ids:
            walk = bucket.walk(agents)
        elif bucket.order:
            walk = iter(bucket.order)
        else:
            continue
        first = next(walk, None)
        if first is not None:
            heads.append((agents[first].idle_since, first, len(walks)))
            walks.append(walk)
    if not heads:
        return None
    if len(heads) == 1:
        return itertools.chain((heads[0][1],), walks[0])  # one bucket: its own iterator, no merge
    heapq.heapify(heads)
    return _merged(heads, walks, agents)


def _merged(
    heads: list[tuple[float, str, int]], walks: list[Iterator[str]], agents: Mapping[str, AgentView]
) -> Iterator[str]:
    """Merge the walks whose first agents are `heads` (a heap of (idle, id, walk index))."""
    while heads:
        agent_id, i = heads[0][1], heads[0][2]
        following = next(walks[i], None)
        if following is None:
            heapq.heappop(heads)
        else:
            heapq.heapreplace(heads, (agents[following].idle_since, following, i))
        yield agent_id


@dataclass
class AgentIndex:
    agents: dict[str, AgentView] = field(default_factory=dict)
    #: Per channel, the ids of the agents with room on it now (an ordered set: "anyone free?"
    #: for the routing pass; their views are in `agents`). Changed only when an agent gains or
    #: loses room, not on every change of its load.
    free: dict[Channel, dict[str, None]] = field(default_factory=lambda: {c: {} for c in Channel})
    #: Channel -> (skill, proficiency) -> bucket; keyed by the profile's own skill items, so an
    #: update builds no keys. A bucket, once made, stays (empty or not): there are at most five
    #: per skill and channel, and a decision finds its buckets through `_levels` without keys.
    _buckets: dict[Channel, dict[tuple[str, int], _Bucket]] = field(
        default_factory=lambda: {c: {} for c in Channel}
    )
    #: Channel -> skill -> the same buckets by proficiency (index 1-5; None: never made).
    _levels: dict[Channel, dict[str, list[_Bucket | None]]] = field(
        default_factory=lambda: {c: {} for c in Channel}
    )
    #: Channels whose bucket of all agents (for contacts needing no skill) is kept. It is the
    #: largest bucket, so it is built on the first decision that needs it, not before.
    _any: set[Channel] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.agents)

    def put(self, agent: AgentView) -> None:
        """Add or update an agent (after any change of state, load or idle time).

        An agent is in the buckets of a channel only while it has room on it, so a reservation
        that fills it moves it out of that channel's buckets and a walk never meets it there.
        """
        profile = agent.profile
        agent_id = profile.agent_id
        agents = self.agents
        previous = agents.get(agent_id)
        agents[agent_id] = agent
        room = agent.room
        skills = profile.skills
        if previous is None or not (
            (known := previous.profile) is profile or known.skills is skills or known.skills == skills
        ):
            before = () if previous is None else previous.room
            for channel in before:
                del self.free[channel][agent_id]
            for channel in room:
                self.free[channel][agent_id] = None
            if previous is not None:
                self._discard(agent_id, before, previous.profile.skills)
            self._add(agent_id, agent.idle_since, room, skills, fresh=True)
            return
        # The common case, after every offer, answer and completion: written out in one loop
        # with the buckets' maps used directly (no helper calls), since it runs twice per
        # routing decision. `_Bucket.discard`/`insert` only for an agent that arrived out of
        # idle order (the rare side heap).
        before = previous.room
        idle = agent.idle_since
        moved = previous.idle_since != idle
        if room == before and not moved:
            return  # a change of load alone that changes no channel's room: nothing to move
        free = self.free
        all_buckets = self._buckets
        wants_any = self._any
        for channel in before:
            if channel in room:
                continue
            del free[channel][agent_id]
            buckets = all_buckets[channel]
            for key in [*skills.items(), _ANY_SKILL] if channel in wants_any else skills.items():
                bucket = buckets.get(key)
                if bucket is not None:
                    order = bucket.order
                    if not order.pop(agent_id, False):
                        bucket.discard(agent_id)  # it was on the side heap
                    elif not order:
                        bucket.tail = -math.inf
        for channel in room:
            gained = channel not in before
            if gained:
                free[channel][agent_id] = None
            elif not moved:
                continue
            buckets = all_buckets[channel]
            for key in [*skills.items(), _ANY_SKILL] if channel in wants_any else skills.items():
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = self._bucket(channel, key)
                if idle >= bucket.tail:
                    order = bucket.order
                    if gained:
                        order[agent_id] = True
                    else:
                        try:
                            order.move_to_end(agent_id)  # idle again, since the newest: to the end
                        except KeyError:
                            bucket.discard(agent_id)  # it was on the side heap
                            order[agent_id] = True
                    bucket.tail = idle
                else:
                    if not gained:
                        bucket.discard(agent_id)
                    bucket.insert(agent_id, idle)

    def has_room(self, channel: Channel, exclude: Collection[str] = ()) -> bool:
        """Whether any agent not in `exclude` has room on `channel` (O(1) when exclude is small)."""
        free = self.free[channel]
        if not exclude:
            return bool(free)
        return any(agent_id not in exclude for agent_id in free)

    def compact(self) -> None:
        """Sort every bucket now (after a bulk load in random order) instead of on first use."""
        for buckets in self._buckets.values():
            for bucket in buckets.values():
                if bucket.late_ids:
                    bucket.fold(self.agents)

    def remove(self, agent_id: str) -> None:
        previous = self.agents.pop(agent_id, None)
        if previous is None:
            return
        room = previous.room
        for channel in room:
            self.free[channel].pop(agent_id, None)
        self._discard(agent_id, room, previous.profile.skills)

    def _bucket(self, channel: Channel, key: tuple[str, int]) -> _Bucket:
        """A new bucket for `key` on `channel`, findable by key and by skill and level."""
        bucket = self._buckets[channel][key] = _Bucket()
        skill, level = key
        if skill:
            levels = self._levels[channel].setdefault(skill, [None] * 6)
            levels[level] = bucket
        return bucket

    def _add(
        self,
        agent_id: str,
        idle_since: float,
        channels: Iterable[Channel],
        skills: Mapping[str, int],
        *,
        fresh: bool,
    ) -> None:
        for channel in channels:
            buckets = self._buckets[channel]
            keys: Iterable[tuple[str, int]] = skills.items()
            if channel in self._any:
                keys = [*keys, _ANY_SKILL]
            for key in keys:
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = self._bucket(channel, key)
                if fresh:
                    bucket.insert(agent_id, idle_since)
                else:
                    bucket.put(agent_id, idle_since)

    def _discard(self, agent_id: str, channels: Iterable[Channel], skills: Mapping[str, int]) -> None:
        for channel in channels:
            buckets = self._buckets[channel]
            keys: Iterable[tuple[str, int]] = skills.items()
            if channel in self._any:
                keys = [*keys, _ANY_SKILL]
            for key in keys:
                bucket = buckets.get(key)
                if bucket is not None:
                    bucket.discard(agent_id)

    def _any_bucket(self, channel: Channel) -> _Bucket | None:
        if channel not in self._any:
            self._any.add(channel)
            bucket = self._bucket(channel, _ANY_SKILL)
            agents = self.agents
            for agent_id in self.free[channel]:
                bucket.put(agent_id, agents[agent_id].idle_since)
            bucket.fold(agents)
        return self._buckets[channel].get(_ANY_SKILL)

    def _buckets_for(self, channel: Channel, skills: frozenset[str], level: int) -> tuple[list[_Bucket], str]:
        """The non-empty buckets holding every agent with room on `channel` and the rarest of
        `skills` at `level` or better, and that skill (empty when no skill is required)."""
        if not skills:
            bucket = self._any_bucket(channel)
            return ([bucket] if bucket is not None and (bucket.order or bucket.late_ids) else []), ""
        by_skill = self._levels[channel]
        rarest: list[_Bucket] = []
        rarest_skill = ""
        rarest_size = -1
        for skill in skills:
            levels = by_skill.get(skill)
            found = (
                [b for b in levels[level:] if b is not None and (b.order or b.late_ids)]
                if levels is not None
                else []
            )
            if not found:
                return [], skill  # nobody with room has this skill at this level
            if len(skills) == 1:
                return found, skill
            size = sum(len(b) for b in found)
            if rarest_size < 0 or size < rarest_size:
                rarest, rarest_skill, rarest_size = found, skill, size
        return rarest, rarest_skill

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
        waited = now - contact.enqueued_at
        ring = queue.ring_at(waited)
        level = queue.rings[ring].min_proficiency
        required = queue.required_skills
        if contact.required_skills:
            required = contact.required_skills | required
        agents = self.agents
        channel = contact.channel
        # The walk over the buckets of the rarest required skill at `level` and above (one
        # skill, the usual queue: its levels' buckets directly, without sizing them first).
        walk: Iterator[str] | None
        if len(required) == 1:
            (covered,) = required
            levels = self._levels[channel].get(covered)
            walk = None if levels is None else _walk_of(levels[level:], agents)
        elif not required:
            covered = ""
            walk = _walk_of((self._any_bucket(channel),), agents)
        else:
            buckets, covered = self._buckets_for(channel, required, level)
            walk = _walk_of(buckets, agents) if buckets else None
        # What being in these buckets does not already prove (room on the channel, `covered` at
        # `level`), checked inline as `refusal` would; `refusal` then only words a rejection.
        others = [s for s in required if s != covered] if len(required) > 1 else ()
        language = contact.language
        mode = ""
        language_ring = 0
        prefers = False
        if language:
            rule = queue.language
            if rule.is_strict:  # the default: no step to look up
                mode = _REQUIRED
            else:
                language_ring = rule.step_at(waited)
                step_mode = rule.steps[language_ring].mode
                mode = step_mode.value
                if step_mode is not LanguageMode.REQUIRED:
                    prefers = step_mode is LanguageMode.PREFERRED
                    language = ""  # not a reason to refuse anyone now
        allowed_brands = {queue.brand} | queue.shared_brands if queue.brand and not queue.all_brands else None
        rejected: list[Candidate] = []
        winner: _Entry | None = None
        #: While the language is only preferred: the first eligible agent who does not speak
        #: it, taken when no speaker turns up within `max_skipped` more agents.
        fallback: _Entry | None = None
        skipped = 0
        if walk is not None:
            for agent_id in walk:
                agent = agents[agent_id]
                idle_since = agent.idle_since
                if winner is not None:
                    if idle_since != winner[0]:
                        break
                elif skipped >= max_skipped:
                    break
                if agent_id in exclude:
                    continue
                profile = agent.profile
                if (
                    (
                        allowed_brands is not None
                        and profile.brands
                        and profile.brands.isdisjoint(allowed_brands)
                    )
                    or (language and language not in profile.languages)
                    or (others and any(profile.skills.get(skill, 0) < level for skill in others))
                ):
                    reason = refusal(agent, contact, queue, level, language_required=bool(language))
                else:
                    reason = None
                if reason is None:
                    if prefers and contact.language not in profile.languages:
                        if fallback is None:
                            fallback = (idle_since, agent_id)
                            max_skipped = min(max_skipped, skipped + _PREFERRED_LOOKAHEAD)
                        elif idle_since == fallback[0] and agent_id > fallback[1]:
                            fallback = (idle_since, agent_id)
                        skipped += 1
                        if len(rejected) < _KEEP_REJECTED:
                            rejected.append(Candidate(agent_id, 0.0, f"prefers a {contact.language} speaker"))
                        continue
                    if winner is None or agent_id > winner[1]:
                        winner = (idle_since, agent_id)
                    continue
                if winner is None:
                    skipped += 1
                    if len(rejected) < _KEEP_REJECTED:
                        rejected.append(Candidate(agent_id, 0.0, reason))
        if winner is None and fallback is not None:
            # No speaker of the preferred language within reach: the first other eligible agent.
            winner = fallback
            rejected = [c for c in rejected if c.agent_id != fallback[1]]
        if winner is None:
            return Decision(
                contact.contact_id,
                queue.name,
                "",
                "no_eligible_agent",
                ring,
                tuple(rejected),
                contact.language,
                mode,
                language_ring,
            )
        chosen = Candidate(winner[1], now - winner[0])
        candidates = (chosen, *rejected) if rejected else (chosen,)
        return Decision(
            contact.contact_id,
            queue.name,
            chosen.agent_id,
            "longest_idle",
            ring,
            candidates,
            contact.language,
            mode,
            language_ring,
        )
