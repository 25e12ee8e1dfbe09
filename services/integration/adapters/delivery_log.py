"""The integration service's log of the events it has taken, per contact.

`log.<tenant>.<contact>` holds the contact's events in stream order. Appends use optimistic
concurrency, and an event already in the log is not appended again, so at-least-once
delivery from JetStream still yields each event once.
"""

from __future__ import annotations

import base64

import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh.kv import update_with
from contactcenter.events.v1 import events_pb2

#: Bound per contact; a contact with more events than this keeps the newest.
MAX_EVENTS_PER_CONTACT = 2000


class DeliveryLog:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def _key(tenant_id: str, contact_id: str) -> str:
        return f"log.{tenant_id}.{contact_id}"

    async def append(self, event: events_pb2.Event) -> bool:
        """Record the event; False when it was already recorded (a redelivery)."""
        appended: list[bool] = []

        def mutate(current: bytes | None) -> bytes | None:
            entries = orjson.loads(current) if current else []
            if any(entry["id"] == event.event_id for entry in entries):
                appended.append(False)
                return current  # unchanged: update_with writes nothing
            entries.append(
                {"id": event.event_id, "data": base64.b64encode(event.SerializeToString()).decode()}
            )
            appended.append(True)
            return orjson.dumps(entries[-MAX_EVENTS_PER_CONTACT:])

        await update_with(self._kv, self._key(event.tenant.tenant_id, event.contact_id), mutate)
        return appended[-1]

    async def events(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        try:
            entry = await self._kv.get(self._key(tenant_id, contact_id))
        except KeyNotFoundError:
            return []
        return [
            events_pb2.Event.FromString(base64.b64decode(e["data"]))
            for e in orjson.loads(entry.value or b"[]")
        ]
