"""An in-memory analytics store: the `AnalyticsStore` port with the domain's reference sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from integration.domain.analytics_episodes import SurgeEpisode, not_yet_kept
from integration.domain.analytics_export import ExportQuery, key_of
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import GroupTotals, ReportQuery, totals_by
from integration.domain.analytics_reanalysis import ContactReanalysis


class MemoryAnalyticsStore:
    def __init__(self) -> None:
        self.facts: list[ContactFact] = []
        self.episodes: list[SurgeEpisode] = []
        self.reanalyses: list[ContactReanalysis] = []
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

    async def erase_customer(self, tenant_id: str, customer_id: str, ledger: ContactLedger) -> int:
        theirs = [f for f in self.facts if f.tenant_id == tenant_id and f.customer_id == customer_id]
        self.facts = [replace(f, customer_id="erased") if f in theirs else f for f in self.facts]
        for contact in ledger.open_contacts():
            if contact.tenant_id == tenant_id and contact.customer_id == customer_id:
                contact.customer_id = "erased"
        self._ledger = ledger.snapshot()
        return len(theirs)

    async def add_episodes(self, episodes: Sequence[SurgeEpisode]) -> None:
        self.episodes += not_yet_kept(list(episodes), {e.event_id for e in self.episodes})

    async def add_reanalyses(self, rows: Sequence[ContactReanalysis]) -> None:
        kept = {r.event_id for r in self.reanalyses}
        for row in rows:
            if row.event_id not in kept:
                kept.add(row.event_id)
                self.reanalyses.append(row)

    async def totals(self, query: ReportQuery) -> list[GroupTotals]:
        return totals_by(self.facts, query)

    async def expire_before(self, day: str) -> list[str]:
        def day_of(fact: ContactFact) -> str:
            return datetime.fromtimestamp(fact.arrived_at, UTC).date().isoformat()

        removed = sorted({day_of(f) for f in self.facts if day_of(f) < day})
        self.facts = [f for f in self.facts if day_of(f) >= day]
        return removed

    async def contacts(self, query: ExportQuery) -> list[ContactFact]:
        return sorted((f for f in self.facts if query.holds(f)), key=key_of)[: query.page_size]
