"""Journey paths in the analytics store: one row per ended journey, and the report over them.

A row is what routing's JourneyEnded tells (the nodes visited in order, where and how the
journey ended). The report groups a period's rows by flow and version: how many ended, by
outcome; the most frequent paths; and the drop-off, how many journeys ended at each node, by
outcome (a menu most callers leave at is where the flow loses them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: The separator of a path's nodes in the stored column (node ids never contain it).
PATH_SEPARATOR = " > "
DEFAULT_TOP_PATHS = 10
MAX_TOP_PATHS = 1000


@dataclass(frozen=True)
class JourneyPathRow:
    event_id: str
    tenant_id: str
    brand_id: str
    journey_id: str
    flow: str
    version: int
    alias: str
    path: str
    truncated: bool
    end_node: str
    outcome: str
    queue: str
    detail: str
    started_at: float
    ended_at: float
    duration_seconds: float

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.path.split(PATH_SEPARATOR)) if self.path else ()


def joined_path(nodes: Sequence[str]) -> str:
    return PATH_SEPARATOR.join(nodes)


@dataclass(frozen=True)
class PathCount:
    nodes: tuple[str, ...]
    journeys: int
    truncated: bool


@dataclass(frozen=True)
class DropOff:
    node: str
    outcome: str
    journeys: int


@dataclass
class FlowJourneys:
    flow: str
    version: int
    journeys: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    paths: list[PathCount] = field(default_factory=list)
    drop_offs: list[DropOff] = field(default_factory=list)
    #: None when no journey's start was known.
    average_duration_seconds: float | None = None


def journey_report(rows: Iterable[JourneyPathRow], top_paths: int = DEFAULT_TOP_PATHS) -> list[FlowJourneys]:
    """Per flow and version (sorted): outcomes, the `top_paths` most frequent paths (ties in
    path order), and every node journeys ended at with its outcome (most journeys first)."""
    groups: dict[tuple[str, int], list[JourneyPathRow]] = defaultdict(list)
    for row in rows:
        groups[(row.flow, row.version)].append(row)
    report = []
    for (flow, version), members in sorted(groups.items()):
        paths: Counter[str] = Counter(row.path for row in members)
        truncated = {row.path for row in members if row.truncated}
        ends: Counter[tuple[str, str]] = Counter((row.end_node, row.outcome) for row in members)
        timed = [row.duration_seconds for row in members if row.started_at > 0]
        report.append(
            FlowJourneys(
                flow=flow,
                version=version,
                journeys=len(members),
                outcomes=Counter(row.outcome for row in members),
                paths=[
                    PathCount(tuple(path.split(PATH_SEPARATOR)) if path else (), count, path in truncated)
                    for path, count in sorted(paths.items(), key=lambda item: (-item[1], item[0]))[:top_paths]
                ],
                drop_offs=[
                    DropOff(node, outcome, count)
                    for (node, outcome), count in sorted(ends.items(), key=lambda item: (-item[1], item[0]))
                ],
                average_duration_seconds=sum(timed) / len(timed) if timed else None,
            )
        )
    return report
