"""Fold the region's contact events into the analytics store, each event once.

The consumer hands over a batch; its events are folded into the contacts they belong to and the
contacts they closed are committed together with the open contacts' state before the batch is
acknowledged. A failed commit forgets the batch (the ledger goes back to the store's), so its
redelivery is applied afresh; a redelivery after a commit is recognised by event id.
"""

from __future__ import annotations

from collections.abc import Sequence

from integration.domain.analytics_facts import ContactEvent
from integration.service_layer.analytics_ports import AnalyticsStore

#: A contact no event touched for this long (by event time) is stored as it stands.
IDLE_CONTACT_SECONDS = 24 * 3600.0


class AnalyticsIngest:
    def __init__(self, store: AnalyticsStore, *, idle_contact_seconds: float = IDLE_CONTACT_SECONDS) -> None:
        self._store = store
        self._ledger = store.ledger()
        self._idle = idle_contact_seconds
        self.latest = 0.0

    async def ingest(self, events: Sequence[ContactEvent]) -> int:
        """Apply `events` (in stream order) and commit; returns the contacts it finished."""
        if not events:
            return 0
        facts = self._ledger.apply(events)
        latest = max(self.latest, max(e.at for e in events))
        facts.extend(self._ledger.expire(self._idle, latest))
        try:
            await self._store.commit(facts, self._ledger)
        except BaseException:
            self._ledger = self._store.ledger()
            raise
        self.latest = latest
        return len(facts)
