"""Fold the region's contact events into the analytics store, each event once.

The consumer hands over a batch; its events are folded into the contacts they belong to and the
contacts they closed are committed together with the open contacts' state before the batch is
acknowledged. A failed commit forgets the batch (the ledger goes back to the store's), so its
redelivery is applied afresh; a redelivery after a commit is recognised by event id.

The finished contacts' curated records go to business systems before the commit: once committed,
a contact is never finished again, so a record published after it could be lost by a crash in
between; published before, a retried batch publishes it again under the same event id (dropped
as a duplicate).
"""

from __future__ import annotations

from collections.abc import Sequence

from integration.domain.analytics_episodes import SurgeEpisode
from integration.domain.analytics_facts import ContactEvent
from integration.domain.analytics_reanalysis import ContactReanalysis
from integration.service_layer.analytics_ports import AnalyticsStore, ContactRecordSink

#: A contact no event touched for this long (by event time) is stored as it stands.
IDLE_CONTACT_SECONDS = 24 * 3600.0


class AnalyticsIngest:
    def __init__(
        self,
        store: AnalyticsStore,
        *,
        idle_contact_seconds: float = IDLE_CONTACT_SECONDS,
        records: ContactRecordSink | None = None,
    ) -> None:
        self._store = store
        self._records = records
        self._ledger = store.ledger()
        self._idle = idle_contact_seconds
        self.latest = 0.0

    async def ingest(self, items: Sequence[ContactEvent | SurgeEpisode | ContactReanalysis]) -> int:
        """Apply the contact events of `items` (in stream order) and commit, after keeping the
        surge episodes and batch re-analyses among them; returns the contacts it finished."""
        episodes = [item for item in items if isinstance(item, SurgeEpisode)]
        if episodes:
            # Kept by event id: a batch that comes again after a failed commit adds none twice.
            await self._store.add_episodes(episodes)
        reanalyses = [item for item in items if isinstance(item, ContactReanalysis)]
        if reanalyses:
            await self._store.add_reanalyses(reanalyses)
        events = [item for item in items if isinstance(item, ContactEvent)]
        if not events:
            return 0
        facts = self._ledger.apply(events)
        latest = max(self.latest, max(e.at for e in events))
        facts.extend(self._ledger.expire(self._idle, latest))
        try:
            if self._records is not None:
                await self._records.publish(facts)
            await self._store.commit(facts, self._ledger)
        except BaseException:
            self._ledger = self._store.ledger()
            raise
        self.latest = latest
        return len(facts)

    async def erase_customer(self, tenant_id: str, customer_id: str) -> int:
        """Remove the customer's id from the store and the open contacts (after identity forgot
        them); their contacts stay counted. Returns the stored rows changed."""
        return await self._store.erase_customer(tenant_id, customer_id, self._ledger)
