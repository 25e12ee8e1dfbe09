"""What the analytics use cases need from the store, as a Protocol.

`ParquetAnalyticsStore` (Parquet files under the region's data directory, queried with DuckDB)
is the one the service runs; the unit tests hand the use cases `MemoryAnalyticsStore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from integration.domain.analytics_export import ExportQuery
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import GroupTotals, QueueTarget, ReportQuery


class AnalyticsStore(Protocol):
    def ledger(self) -> ContactLedger:
        """The open and recently finished contacts as of the last commit."""
        ...

    async def commit(self, facts: Sequence[ContactFact], ledger: ContactLedger) -> None:
        """Store `facts` and `ledger` together, durably: after a crash the store holds both or
        neither (the events that led to them are then delivered again)."""
        ...

    async def totals(self, query: ReportQuery) -> list[GroupTotals]:
        """The query's contacts summed per (interval, group)."""
        ...

    async def contacts(self, query: ExportQuery) -> list[ContactFact]:
        """The first `query.page_size` contacts the query holds, in (arrival, contact id) order."""
        ...


class QueueTargets(Protocol):
    """The tenant's queues' service-level targets (`RoutingQueueTargets`: routing owns queues)."""

    async def of_tenant(self, tenant_id: str) -> Mapping[str, QueueTarget]: ...
