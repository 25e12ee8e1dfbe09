"""Agents' state changes into the analytics store, and their metrics into by-agent reports.

`AgentStatesIngest` sits in front of the contact ingest on the analytics consumer: it takes the
batch's agent state events out, folds them into intervals and commits those with the agents'
open stays, then hands the rest on; the batch is acknowledged only once both committed. A
failed commit forgets what it folded (the open stays go back to the store's), so the batch's
redelivery is folded afresh; a redelivery after a commit is recognised by the open stays.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from integration.domain.analytics_agent_states import (
    AgentInterval,
    AgentStateEvent,
    AgentStays,
    AgentTotals,
    agent_totals,
    open_intervals,
)
from integration.domain.analytics_metrics import ReportQuery


class AgentStateStore(Protocol):
    """Where agents' state intervals are kept (`ParquetAgentStateStore`)."""

    def stays(self) -> AgentStays:
        """The agents' open stays as of the last commit."""
        ...

    async def commit(self, intervals: Sequence[AgentInterval], stays: AgentStays) -> None:
        """Store `intervals` and `stays` together, durably (both or neither after a crash)."""
        ...

    async def intervals(self, tenant_id: str, start: float, end: float) -> list[AgentInterval]:
        """The tenant's stored intervals that overlap [start, end)."""
        ...


Ingest = Callable[[Sequence[Any]], Awaitable[int]]


class AgentStatesIngest:
    def __init__(self, store: AgentStateStore, then: Ingest) -> None:
        self._store = store
        self._then = then
        self._stays = store.stays()

    async def __call__(self, items: Sequence[Any]) -> int:
        """Fold and commit the agent state events of `items`, then ingest the others."""
        events = [item for item in items if isinstance(item, AgentStateEvent)]
        if events:
            stays = self._stays.copy()
            intervals = stays.apply(events)
            await self._store.commit(intervals, stays)
            self._stays = stays
            items = [item for item in items if not isinstance(item, AgentStateEvent)]
        return await self._then(items)

    def open_stays(self) -> AgentStays:
        return self._stays


class AgentStateReport:
    """Agents' totals for a report: the stored intervals, and the stays still open up to now."""

    def __init__(
        self,
        store: AgentStateStore,
        open_stays: Callable[[], AgentStays],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._open_stays = open_stays
        self._clock = clock

    async def totals(self, query: ReportQuery) -> Mapping[tuple[float, str], AgentTotals]:
        stored = await self._store.intervals(query.tenant_id, query.start, query.end)
        now = min(self._clock(), query.end)
        current = open_intervals(self._open_stays().open_stays(), now)
        return agent_totals([*stored, *current], query)
