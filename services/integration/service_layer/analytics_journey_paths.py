"""Ended journeys into the analytics store, and the journey report over them.

`JourneyPathsIngest` sits in front of the analytics consumer's other ingests: it takes the
batch's ended journeys out and stores them (once per event id), then hands the rest on; the
batch is acknowledged only once both committed, so a failure brings the whole batch again and
the store recognises what it already holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol

from integration.domain.analytics_journey_paths import (
    DEFAULT_TOP_PATHS,
    MAX_TOP_PATHS,
    FlowJourneys,
    JourneyPathRow,
    journey_report,
)
from integration.domain.analytics_query import ReportError, parse_report_query


class JourneyPathStore(Protocol):
    """Where ended journeys are kept (`ParquetJourneyPathStore`)."""

    async def add(self, rows: Sequence[JourneyPathRow]) -> int:
        """Store the rows not stored yet (by event id), durably; how many were new."""
        ...

    async def rows(self, tenant_id: str, start: float, end: float, flow: str = "") -> list[JourneyPathRow]:
        """The tenant's journeys that ended in [start, end) (of `flow` only, when given)."""
        ...


Ingest = Callable[[Sequence[Any]], Awaitable[int]]


class JourneyPathsIngest:
    def __init__(self, store: JourneyPathStore, then: Ingest) -> None:
        self._store = store
        self._then = then

    async def __call__(self, items: Sequence[Any]) -> int:
        """Store the ended journeys of `items`, then ingest the others."""
        rows = [item for item in items if isinstance(item, JourneyPathRow)]
        if rows:
            await self._store.add(rows)
            items = [item for item in items if not isinstance(item, JourneyPathRow)]
        return await self._then(items)


class JourneyReports:
    def __init__(self, store: JourneyPathStore) -> None:
        self._store = store

    async def report(
        self,
        *,
        tenant_id: str,
        start: str,
        end: str,
        time_zone: str = "",
        flow: str = "",
        top_paths: int = 0,
        brands: Collection[str] = (),
    ) -> list[FlowJourneys]:
        """Raises `ReportError` naming a bad parameter. `brands` limits the report to those
        brands' journeys (a brand-scoped caller's); empty: every brand of the tenant."""
        # The period is read as every report reads it (the same checks and limits).
        query = parse_report_query(
            tenant_id=tenant_id, start=start, end=end, interval="day", time_zone=time_zone or "UTC"
        )
        if not 0 <= top_paths <= MAX_TOP_PATHS:
            raise ReportError("top_paths", f"must be between 0 and {MAX_TOP_PATHS}, got {top_paths}")
        rows = await self._store.rows(tenant_id, query.start, query.end, flow)
        if brands:
            rows = [row for row in rows if row.brand_id in brands]
        return journey_report(rows, top_paths or DEFAULT_TOP_PATHS)
