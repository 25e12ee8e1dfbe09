"""Which of our outbound messages a provider's message id names, in the region's gateway bucket.

`receipt.<tenant>.<hash of provider and provider message id>` holds the contact and our
message id. Providers report delivery (`delivered`, `read`, `failed`) by their own id only, so
their status webhooks need this to reach the right contact's history. A receipt expires after
the region's `retention.gateway.finishedTtlSeconds`: status reports come within days.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


@dataclass(frozen=True)
class Receipt:
    contact_id: str
    message_id: str
    brand_id: str


def _kept() -> int:
    return 0


class ProviderReceipts:
    def __init__(self, kv: KeyValue, finished_ttl: Callable[[], int] = _kept) -> None:
        self._kv = kv
        self._finished_ttl = finished_ttl

    async def remember(
        self, tenant_id: str, provider: str, provider_message_id: str, receipt: Receipt
    ) -> None:
        data = orjson.dumps(receipt.__dict__)
        # Already known (a redelivered event): the first record stands.
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self._kv.create(
                _key(tenant_id, provider, provider_message_id), data, msg_ttl=self._finished_ttl() or None
            )

    async def find(self, tenant_id: str, provider: str, provider_message_id: str) -> Receipt | None:
        try:
            entry = await self._kv.get(_key(tenant_id, provider, provider_message_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        raw = orjson.loads(entry.value)
        return Receipt(str(raw["contact_id"]), str(raw["message_id"]), str(raw.get("brand_id", "")))


def _key(tenant_id: str, provider: str, provider_message_id: str) -> str:
    # Provider ids (wamid.HBg...=) hold characters KV keys do not allow; a hash is always valid.
    digest = hashlib.sha256(f"{provider}:{provider_message_id}".encode()).hexdigest()[:40]
    return f"receipt.{tenant_id}.{digest}"
