"""Delivery records of outbound messages in the region's gateway bucket.

`out.<tenant>.<hash of message id>` counts the provider calls made for one message, when the
next may be made (a provider's Retry-After), and the final status. A redelivered event whose
message is already `sent` or `failed` is not sent again: a customer gets a reply once even
when the consumer's ack was lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


@dataclass(frozen=True)
class OutboxRecord:
    attempts: int = 0
    #: "", "sent" or "failed".
    status: str = ""
    #: Unix time before which the provider is not called again (0: any time).
    not_before: float = 0.0
    provider_message_id: str = ""


class OutboxConflict(RuntimeError):
    """Another instance changed the record meanwhile; the event is retried."""


class OutboxStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, tenant_id: str, message_id: str) -> tuple[OutboxRecord, int]:
        try:
            entry = await self._kv.get(_key(tenant_id, message_id))
        except KeyNotFoundError:
            return OutboxRecord(), 0
        if not entry.value:
            return OutboxRecord(), 0
        return OutboxRecord(**orjson.loads(entry.value)), int(entry.revision or 0)

    async def put(self, tenant_id: str, message_id: str, record: OutboxRecord, revision: int) -> int:
        key = _key(tenant_id, message_id)
        data = orjson.dumps(asdict(record))
        try:
            if revision == 0:
                return int(await self._kv.create(key, data))
            return int(await self._kv.update(key, data, last=revision))
        except KeyWrongLastSequenceError:
            raise OutboxConflict(f"delivery record of message {message_id} changed concurrently") from None


def _key(tenant_id: str, message_id: str) -> str:
    # Message ids come from agents and bots alike; a hash keeps any of them a valid key.
    return f"out.{tenant_id}.{hashlib.sha256(message_id.encode()).hexdigest()[:40]}"
