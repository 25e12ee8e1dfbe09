"""Which instance delivers a subscription: a lease per subscription in the region's integration bucket.

Replicas of the integration service share the region's subscriptions; one worker per subscription
keeps the per-contact order (two would race on the consumer). `lease.<subscription>` holds the
holder and an expiry; it is taken when absent or expired and renewed by its holder, always with
the KV revision read, so two instances cannot both win.
"""

from __future__ import annotations

import contextlib
import time

import orjson
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


class Leases:
    def __init__(self, kv: KeyValue, holder: str, ttl_seconds: float) -> None:
        self._kv = kv
        self.holder = holder
        self.ttl = ttl_seconds

    @staticmethod
    def _key(name: str) -> str:
        return f"lease.{name}"

    async def hold(self, name: str) -> bool:
        """Take or renew the lease of subscription `name`; True when this instance holds it now."""
        key = self._key(name)
        now = time.time()
        value = orjson.dumps({"holder": self.holder, "until": now + self.ttl})
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            entry = None
        try:
            if entry is None or not entry.value:
                if entry is None:
                    await self._kv.create(key, value)
                else:
                    await self._kv.update(key, value, last=entry.revision)
                return True
            current = orjson.loads(entry.value)
            if current["holder"] != self.holder and float(current["until"]) > now:
                return False
            await self._kv.update(key, value, last=entry.revision)
            return True
        except (KeyWrongLastSequenceError, APIError):
            return False  # another instance took or renewed it between our read and write

    async def release(self, name: str) -> None:
        key = self._key(name)
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return
        if entry.value and orjson.loads(entry.value)["holder"] == self.holder:
            with contextlib.suppress(KeyWrongLastSequenceError, APIError):
                await self._kv.delete(key, last=entry.revision)
