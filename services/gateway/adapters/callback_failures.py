"""Call backs that failed (every attempt unanswered), kept a day for the supervisor's board.

One key per failed request in the gateway's bucket, `callbacks.failed.<tenant>.<contact>`,
expiring on its own; the board reads a tenant's keys with a watch of that prefix.
"""

from __future__ import annotations

from typing import Any

import orjson
from nats.js.kv import KeyValue

from ccmesh.kv import write_expiring

#: How long a failed call back stays on the board.
KEPT_SECONDS = 24 * 3600
_PREFIX = "callbacks.failed"


class CallbackFailures:
    def __init__(self, kv: KeyValue, kept_seconds: int = KEPT_SECONDS) -> None:
        self._kv = kv
        self._kept = kept_seconds

    async def remember(self, tenant_id: str, contact_id: str, failed: dict[str, Any]) -> None:
        await write_expiring(
            self._kv, f"{_PREFIX}.{tenant_id}.{contact_id}", orjson.dumps(failed), last=None, ttl=self._kept
        )

    async def of_tenant(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's failed call backs of the last day, oldest failure first."""
        # A watch on the tenant's keys only (nats-py's `keys()` reads every key of the bucket and
        # filters by substring).
        watcher = await self._kv.watch(f"{_PREFIX}.{tenant_id}.*", ignore_deletes=True)
        found = []
        try:
            async for entry in watcher:
                if entry is None:  # the keys there were are all delivered
                    break
                if entry.value:
                    found.append(orjson.loads(entry.value))
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return sorted(found, key=lambda failed: failed.get("failedAt", 0.0))
