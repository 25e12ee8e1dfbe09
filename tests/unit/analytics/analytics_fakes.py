"""An in-memory analytics store: the `AnalyticsStore` port with the domain's reference sums."""

from __future__ import annotations

from collections.abc import Sequence

from integration.domain.analytics_export import ExportQuery, key_of
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import GroupTotals, ReportQuery, totals_by


class MemoryAnalyticsStore:
    def __init__(self) -> None:
        self.facts: list[ContactFact] = []
        self._ledger = ContactLedger()
        self.commits = 0
        self.fail_next_commit = False

    def ledger(self) -> ContactLedger:
        return self._ledger.snapshot()

    async def commit(self, facts: Sequence[ContactFact], ledger: ContactLedger) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise OSError("No space left on device")
        self.facts.extend(facts)
        self._ledger = ledger.snapshot()
        self.commits += 1

    async def totals(self, query: ReportQuery) -> list[GroupTotals]:
        return totals_by(self.facts, query)

    async def contacts(self, query: ExportQuery) -> list[ContactFact]:
        return sorted((f for f in self.facts if query.holds(f)), key=key_of)[: query.page_size]
