"""Events that exhausted their retry budget, per subscription, in the region's integration bucket.

Key `dlq.<tenant>.<subscription>.<event id>`; the value keeps the event itself, so a replay
needs nothing else. The bucket is placed in the region, like the events.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Collection
from dataclasses import dataclass

import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh.kv_watch import current_entries
from contactcenter.events.v1 import events_pb2


@dataclass(frozen=True)
class DeadLetterRecord:
    subscription: str
    event: events_pb2.Event
    attempts: int
    reason: str
    dead_lettered_at: int


def _key(tenant_id: str, subscription: str, event_id: str) -> str:
    return f"dlq.{tenant_id}.{subscription}.{event_id}"


class DeadLetterStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def put(
        self, tenant_id: str, subscription: str, event: events_pb2.Event, attempts: int, reason: str
    ) -> None:
        value = {
            "subscription": subscription,
            "event": base64.b64encode(event.SerializeToString()).decode(),
            "attempts": attempts,
            "reason": reason,
            "at": int(time.time()),
        }
        await self._kv.put(_key(tenant_id, subscription, event.event_id), orjson.dumps(value))

    async def remove(self, tenant_id: str, subscription: str, event_id: str) -> None:
        await self._kv.purge(_key(tenant_id, subscription, event_id))

    async def list(self, tenant_id: str, subscription: str) -> list[DeadLetterRecord]:
        records: list[DeadLetterRecord] = []
        for entry in await current_entries(self._kv, f"dlq.{tenant_id}.{subscription}.*"):
            if not entry.value:
                continue
            raw = orjson.loads(entry.value)
            records.append(
                DeadLetterRecord(
                    subscription=raw["subscription"],
                    event=events_pb2.Event.FromString(base64.b64decode(raw["event"])),
                    attempts=int(raw["attempts"]),
                    reason=str(raw["reason"]),
                    dead_lettered_at=int(raw["at"]),
                )
            )
        return sorted(records, key=lambda r: (r.dead_lettered_at, r.event.event_id))

    async def erase_contacts(
        self, tenant_id: str, contact_ids: Collection[str], customer_ids: Collection[str]
    ) -> int:
        """Purge the tenant's dead letters of `contact_ids` or naming one of `customer_ids`
        (erasure); how many."""
        contacts = set(contact_ids)
        needles = [c.encode() for c in customer_ids if c]
        erased = 0
        for entry in await current_entries(self._kv, f"dlq.{tenant_id}.>"):
            if not entry.value:
                continue
            encoded = base64.b64decode(orjson.loads(entry.value)["event"])
            event = events_pb2.Event.FromString(encoded)
            if event.contact_id in contacts or any(needle in encoded for needle in needles):
                await self._kv.purge(entry.key)
                erased += 1
        return erased

    async def exists(self, tenant_id: str, subscription: str, event_id: str) -> bool:
        try:
            entry = await self._kv.get(_key(tenant_id, subscription, event_id))
        except KeyNotFoundError:
            return False
        return bool(entry.value)
