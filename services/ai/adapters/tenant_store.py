"""The ai service's region bucket: per-tenant artifacts and conversation state.

Keys
    intent.<tenant>            the tenant's intent training set and threshold (zlib JSON)
    kb.<tenant>                the tenant's knowledge base articles (zlib JSON)
    conv.<tenant>.<contact>    a conversation so far: redacted turns, sentiments, intents (JSON).
                               Every turn writes it to expire after the region's
                               `retention.ai.finishedTtlSeconds`, so a conversation nobody wraps
                               up goes once idle that long; a wrap-up removes it at once

Artifacts are watched: every replica learns of a new training set or knowledge base as soon
as it is stored, and swaps its in-memory model without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from ccmesh import naming
from ccmesh.kv import ensure_bucket, get_json, update_with
from ccmesh.kv_watch import KeyWatch
from ccmesh.retention import DELETE_MARKER_TTL_SECONDS

log = logging.getLogger(__name__)

#: A stored value must fit into one NATS message (default max payload is 1 MiB).
MAX_STORED_BYTES = 900_000
MAX_TURNS = 200
_KEY_TOKEN = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")

ArtifactCallback = Callable[[str, Any, int], Awaitable[None]]


class StoreError(ValueError):
    """A value cannot be stored; the message says why."""


def check_token(what: str, value: str) -> str:
    if not _KEY_TOKEN.match(value):
        raise StoreError(f"{what} {value[:50]!r} must be 1-200 letters, digits, '_', '-' or '='")
    return value


def pack(value: Any) -> bytes:
    return zlib.compress(orjson.dumps(value), 6)


def unpack(data: bytes) -> Any:
    return orjson.loads(zlib.decompress(data))


def _kept() -> int:
    return 0


class TenantStore:
    def __init__(self, kv: KeyValue, finished_ttl: Callable[[], int] = _kept) -> None:
        """`finished_ttl`: seconds an idle conversation stays (0: kept), read per write."""
        self._kv = kv
        self._finished_ttl = finished_ttl
        self._watchers: list[KeyWatch] = []
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        region: str,
        placement_tags: list[str],
        finished_ttl: Callable[[], int] = _kept,
        *,
        replicas: int = 1,
    ) -> TenantStore:
        bucket = await ensure_bucket(
            js, naming.ai_bucket(region), history=5, placement_tags=placement_tags, replicas=replicas
        )
        return cls(bucket, finished_ttl)

    async def put_artifact(self, kind: str, tenant_id: str, value: Any) -> int:
        data = pack(value)
        if len(data) > MAX_STORED_BYTES:
            raise StoreError(
                f"{kind} of tenant {tenant_id!r} is {len(data)} bytes compressed; "
                f"the maximum is {MAX_STORED_BYTES}"
            )
        return await self._kv.put(f"{kind}.{check_token('tenant id', tenant_id)}", data)

    async def get_artifact(self, kind: str, tenant_id: str) -> tuple[Any, int] | None:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self._kv.get(f"{kind}.{check_token('tenant id', tenant_id)}")
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return unpack(entry.value), entry.revision or 0

    async def watch(self, kind: str, callback: ArtifactCallback) -> None:
        """Call `callback(tenant, value, revision)` for every stored artifact and every change.

        Returns once the artifacts stored so far have been delivered."""
        watcher = await KeyWatch.start(self._kv, f"{kind}.*")
        self._watchers.append(watcher)
        loaded = asyncio.Event()

        async def follow() -> None:
            async for entry in watcher:
                if entry is None:
                    loaded.set()
                    continue
                tenant = entry.key.split(".", 1)[1]
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    continue
                try:
                    await callback(tenant, unpack(entry.value), entry.revision or 0)
                except Exception as error:  # one bad artifact must not stop the watch for every tenant
                    log.error("applying %s of tenant %s failed: %s", kind, tenant, type(error).__name__)

        task = asyncio.create_task(follow(), name=f"ai-watch-{kind}")
        self._tasks.append(task)
        waiter = asyncio.create_task(loaded.wait())
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            waiter.cancel()

    async def stop(self) -> None:
        for watcher in self._watchers:
            with contextlib.suppress(Exception):
                await watcher.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Conversations -------------------------------------------------------------------------

    def _conversation_key(self, tenant_id: str, contact_id: str) -> str:
        return f"conv.{check_token('tenant id', tenant_id)}.{check_token('contact id', contact_id)}"

    async def append_turn(self, tenant_id: str, contact_id: str, turn: dict[str, Any]) -> dict[str, Any]:
        """Add one turn (idempotent by message id) and return the conversation afterwards."""
        result: dict[str, Any] = {}

        def add(old: bytes | None) -> bytes | None:
            conversation = orjson.loads(old) if old else {"turns": []}
            ids = {t.get("message_id") for t in conversation["turns"] if t.get("message_id")}
            if not turn.get("message_id") or turn["message_id"] not in ids:
                conversation["turns"] = [*conversation["turns"], turn][-MAX_TURNS:]
            result.clear()
            result.update(conversation)
            new = orjson.dumps(conversation)
            return old if old is not None and new == old else new

        await update_with(
            self._kv, self._conversation_key(tenant_id, contact_id), add, ttl=self._finished_ttl()
        )
        return result

    async def conversation(self, tenant_id: str, contact_id: str) -> dict[str, Any] | None:
        found = await get_json(self._kv, self._conversation_key(tenant_id, contact_id))
        return found[0] if found else None

    async def forget_conversation(self, tenant_id: str, contact_id: str) -> None:
        # Purged with an expiring marker: neither the turns nor the deletion stay behind.
        await update_with(
            self._kv,
            self._conversation_key(tenant_id, contact_id),
            lambda _: None,
            ttl=DELETE_MARKER_TTL_SECONDS,
        )
