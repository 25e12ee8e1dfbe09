"""Right to erasure, integration's part: what it keeps about a person that identity's scan of the
region's streams cannot find.

The analytics store is Parquet on disk (outside NATS): the person's customer id is replaced
there by a random one, so their contacts still count. Dead letters keep their event encoded, so
a byte scan for the person's contact ids misses them: they are removed here by contact. Delivery
logs are read from the event stream, which identity scrubs itself.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class AnalyticsEraser(Protocol):
    async def erase_customer(self, tenant_id: str, customer_id: str) -> int: ...


class DeadLetterEraser(Protocol):
    async def erase_contacts(
        self, tenant_id: str, contact_ids: Collection[str], customer_ids: Collection[str]
    ) -> int: ...


class CustomerErasure:
    def __init__(
        self,
        dead_letters: DeadLetterEraser,
        dead_letter_store: str,
        analytics: AnalyticsEraser | None = None,
        analytics_store: str = "",
    ) -> None:
        self._dead_letters = dead_letters
        self._dead_letter_store = dead_letter_store
        self._analytics = analytics
        self._analytics_store = analytics_store

    async def erase(
        self, tenant_id: str, customer_ids: Collection[str], contact_ids: Collection[str]
    ) -> dict[str, int]:
        """Records changed or removed per store."""
        removed: dict[str, int] = {}
        if self._analytics is not None:
            rows = 0
            for customer_id in customer_ids:
                rows += await self._analytics.erase_customer(tenant_id, customer_id)
            if rows:
                removed[self._analytics_store] = rows
        letters = await self._dead_letters.erase_contacts(tenant_id, contact_ids, customer_ids)
        if letters:
            removed[self._dead_letter_store] = letters
        return removed
