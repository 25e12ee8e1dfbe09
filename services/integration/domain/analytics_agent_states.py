"""Agents' state intervals and the metrics read from them: occupancy and staffed time (pure).

Routing announces each change of an agent's state (`AgentStateChanged`). The stay an event ends
(from the agent's previous change to this one) becomes intervals, cut at every quarter hour of
UTC: a quarter hour lies inside one report interval of every size (15 min, hour, day) on the
clock of every zone whose offset is a whole number of quarter hours, so each stored piece counts
in exactly one report interval and a stay across 10:00 or a DST change is split where it must be.

- staffed time: time in any state but offline (offline stays are not stored: they count nowhere);
- occupancy: time at work (busy, after-contact work) / (available + at work) time.

Each agent's stays are ordered by time, so the open stay tells which events are already folded:
an event not later than the open stay's start (or the very event that opened it) is a redelivery
and changes nothing. That is what makes a replay or a redelivered batch add no interval twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from integration.domain.analytics_metrics import ReportQuery, ReportRow, Totals, metrics_of
from integration.domain.analytics_time import bucket_end, bucket_start, iso

#: The pieces stays are cut into (seconds): the finest report interval.
PIECE_SECONDS = 900
OFFLINE = "offline"
AVAILABLE = "available"
#: The states in which an agent is handling contacts (routing's names).
WORKING = frozenset({"busy", "after_contact_work"})


@dataclass(frozen=True, slots=True)
class AgentStateEvent:
    event_id: str
    tenant_id: str
    agent_id: str
    previous: str
    state: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class OpenStay:
    """An agent's current state, since the event that began it."""

    tenant_id: str
    agent_id: str
    state: str
    reason: str
    since: float
    event_id: str


@dataclass(frozen=True, slots=True)
class AgentInterval:
    """Part of one stay of an agent in one state, inside one quarter hour. (`event_id`, `piece`)
    names it: the event that ended the stay, and the piece's place in the stay."""

    event_id: str
    piece: int
    tenant_id: str
    agent_id: str
    state: str
    #: Why the agent entered the state (routing's reason).
    reason: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def pieces(start: float, end: float) -> Iterator[tuple[float, float]]:
    """[start, end) cut at every quarter hour of UTC."""
    at = start
    while at < end:
        boundary = (math.floor(at / PIECE_SECONDS) + 1) * PIECE_SECONDS
        following = min(boundary, end)
        yield at, following
        at = following


def intervals_of(stay: OpenStay, end: float, ended_by: str) -> list[AgentInterval]:
    if stay.state == OFFLINE:
        return []
    return [
        AgentInterval(ended_by, n, stay.tenant_id, stay.agent_id, stay.state, stay.reason, a, b)
        for n, (a, b) in enumerate(pieces(stay.since, end))
    ]


class AgentStays:
    """Every agent's open stay; `apply` folds state events into finished intervals."""

    def __init__(self, open_stays: Iterable[OpenStay] = ()) -> None:
        self._open: dict[tuple[str, str], OpenStay] = {(s.tenant_id, s.agent_id): s for s in open_stays}

    def open_stays(self) -> list[OpenStay]:
        return list(self._open.values())

    def apply(self, events: Sequence[AgentStateEvent]) -> list[AgentInterval]:
        """The intervals `events` (in stream order) finish; events already folded add none."""
        finished: list[AgentInterval] = []
        for event in events:
            key = (event.tenant_id, event.agent_id)
            stay = self._open.get(key)
            if stay is not None:
                if event.event_id == stay.event_id or event.at < stay.since:
                    continue  # folded already (a redelivery), or older than what is folded
                finished.extend(intervals_of(stay, event.at, event.event_id))
            self._open[key] = OpenStay(
                event.tenant_id, event.agent_id, event.state, event.reason, event.at, event.event_id
            )
        return finished

    def copy(self) -> AgentStays:
        return AgentStays(self._open.values())


@dataclass(slots=True)
class AgentTotals:
    """One agent's seconds in one report interval."""

    staffed: float = 0.0
    available: float = 0.0
    working: float = 0.0

    def add(self, interval: AgentInterval, seconds: float) -> None:
        if interval.state == OFFLINE:
            return
        self.staffed += seconds
        if interval.state == AVAILABLE:
            self.available += seconds
        elif interval.state in WORKING:
            self.working += seconds

    @property
    def occupancy(self) -> float | None:
        whole = self.available + self.working
        return self.working / whole if whole else None


def open_intervals(stays: Iterable[OpenStay], now: float) -> list[AgentInterval]:
    """The open stays as intervals up to `now` (a report of today counts the agents still on)."""
    return [piece for stay in stays if stay.since < now for piece in intervals_of(stay, now, stay.event_id)]


def agent_totals(
    intervals: Iterable[AgentInterval], query: ReportQuery
) -> Mapping[tuple[float, str], AgentTotals]:
    """The query tenant's agents' totals per (report interval start, agent), the parts of the
    intervals inside [query.start, query.end)."""
    totals: dict[tuple[float, str], AgentTotals] = defaultdict(AgentTotals)
    for interval in intervals:
        if interval.tenant_id != query.tenant_id:
            continue
        start, end = max(interval.start, query.start), min(interval.end, query.end)
        if end <= start:
            continue
        bucket = bucket_start(start, query.interval, query.zone)
        totals[(bucket, interval.agent_id)].add(interval, end - start)
    return totals


def with_agent_metrics(
    query: ReportQuery, rows: Sequence[ReportRow], totals: Mapping[tuple[float, str], AgentTotals]
) -> list[ReportRow]:
    """A by-agent report's rows with each agent's occupancy and staffed time; an agent staffed
    in an interval without contacts gets a row of its own (its contact counts 0)."""
    by_key = {(row.start, row.group): row for row in rows}
    order = {(row.start, row.group): datetime.fromisoformat(row.start).timestamp() for row in rows}
    for (bucket, agent), sums in totals.items():
        start = iso(bucket, query.zone)
        row = by_key.get((start, agent)) or _empty_row(query, bucket, agent)
        by_key[(start, agent)] = replace(row, occupancy=sums.occupancy, staffed_seconds=sums.staffed)
        order[(start, agent)] = bucket
    return [by_key[key] for key in sorted(by_key, key=lambda key: (order[key], key[1]))]


def _empty_row(query: ReportQuery, bucket: float, agent: str) -> ReportRow:
    return ReportRow(
        start=iso(bucket, query.zone),
        end=iso(bucket_end(bucket, query.interval, query.zone), query.zone),
        group=agent,
        **metrics_of(Totals()),  # type: ignore[arg-type]
    )
