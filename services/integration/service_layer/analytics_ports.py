"""What the analytics use cases need from the store, as a Protocol.

`ParquetAnalyticsStore` (Parquet files under the region's data directory, queried with DuckDB)
is the one the service runs; the unit tests hand the use cases `MemoryAnalyticsStore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from integration.domain.analytics_episodes import SurgeEpisode
from integration.domain.analytics_export import ExportQuery
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import GroupTotals, QueueTarget, ReportQuery
from integration.domain.analytics_reanalysis import ContactReanalysis


class AnalyticsStore(Protocol):
    def ledger(self) -> ContactLedger:
        """The open and recently finished contacts as of the last commit."""
        ...

    async def commit(self, facts: Sequence[ContactFact], ledger: ContactLedger) -> None:
        """Store `facts` and `ledger` together, durably: after a crash the store holds both or
        neither (the events that led to them are then delivered again)."""
        ...

    async def erase_customer(self, tenant_id: str, customer_id: str, ledger: ContactLedger) -> int:
        """Replace the customer's id in the stored contacts and in `ledger`'s open ones, durably;
        the rows changed."""
        ...

    async def add_episodes(self, episodes: Sequence[SurgeEpisode]) -> None:
        """Keep `episodes` durably, each event id once (one already kept is left out)."""
        ...

    async def add_reanalyses(self, rows: Sequence[ContactReanalysis]) -> None:
        """Keep batch re-analyses durably, each event id once (one already kept is left out)."""
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


class ContactRecordSink(Protocol):
    """Where finished contacts' curated records go for business systems (`ContactRecords`)."""

    async def publish(self, facts: Sequence[ContactFact]) -> None: ...
