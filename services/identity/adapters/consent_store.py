"""Consent records in the region's identity bucket, which keeps live data without expiry.

Keys (no personal data): `cn.<scope>.<customer>.<record-token>`, written once with `create`, so
a record can never be overwritten and a repeated request with the same record id writes
nothing; a customer's records are read in the order they were written (KV revision order).
`cnow.<scope>.<customer>` sums up what stands now per purpose (the latest record of each), so a
component that only asks "may I?" reads one key, not the history.
"""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ccmesh.kv import update_with
from ccmesh.kv_watch import current_entries
from identity.domain.consent import ConsentRecord, standing_after, standing_of


class ConsentStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def _key(scope: str, customer_id: str, record: ConsentRecord) -> str:
        return f"cn.{scope}.{customer_id}.{record.key_token()}"

    async def append(self, scope: str, record: ConsentRecord) -> tuple[ConsentRecord, bool]:
        """The stored record and whether it was written now (False: its id was written before)."""
        key = self._key(scope, record.customer_id, record)
        try:
            await self._kv.create(key, record.to_json())
        except KeyWrongLastSequenceError:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                entry = None
            if entry is None or not entry.value:
                raise
            stored = ConsentRecord.from_json(entry.value)
            # The first try may have stopped before the summary: bring it up to date (idempotent).
            await self._sum_up(scope, stored)
            return stored, False
        await self._sum_up(scope, record)
        return record, True

    async def _sum_up(self, scope: str, record: ConsentRecord) -> None:
        def mutate(old: bytes | None) -> bytes:
            return standing_after(old, record)

        await update_with(self._kv, f"cnow.{scope}.{record.customer_id}", mutate)

    async def standing(self, scope: str, customer_id: str) -> dict[str, bool]:
        """Purpose -> whether consent stands now, from the summary key (one read)."""
        try:
            entry = await self._kv.get(f"cnow.{scope}.{customer_id}")
        except KeyNotFoundError:
            return {}
        return standing_of(entry.value)

    async def history(self, scope: str, customer_id: str) -> list[ConsentRecord]:
        entries = await current_entries(self._kv, f"cn.{scope}.{customer_id}.*")
        ordered = sorted(entries, key=lambda e: e.revision or 0)
        return [ConsentRecord.from_json(e.value) for e in ordered if e.value]

    async def erase(self, scope: str, customer_id: str) -> int:
        """Purge a customer's consent records (erasure); returns how many."""
        entries = await current_entries(self._kv, f"cn.{scope}.{customer_id}.*", meta_only=True)
        for entry in entries:
            await self._kv.purge(entry.key)
        await self._kv.purge(f"cnow.{scope}.{customer_id}")
        return len(entries)
