"""Flow versions, aliases and durable journey state in the region's JetStream KV buckets.

flows-<region>
    `<tenant>.<flow>.index`     versions published (by digest) and aliases, changed with update_with
    `<tenant>.<flow>.v<n>`      one immutable version: its source files; written with `create`,
                                so a number is taken once even when two publishers race
    `<tenant>._policies`        run-time FlowPolicy sources by name, changed with update_with
journeys-<region>
    `<tenant>.<journey>`        the journey as JSON; every write names the revision it read.
                                An ended journey is written to expire (the region's
                                `retention.journeys.finishedTtlSeconds`); a live one stays
    `due.<tenant>.<journey>`    the deadline of the journey's wait stored at an integration node
                                (one per journey; removed only while it is still that deadline).
                                Every routing instance watches `due.*.*`: what is pending at its
                                start, then every deadline any instance puts or removes. A
                                removal's marker expires, so ended waits leave no key behind
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from ccflow.journey import Journey
from ccflow.registry import FlowIndex
from ccmesh.kv import get_json, update_with, write_expiring
from ccmesh.kv_watch import KeyWatch
from ccmesh.outbox import FIELD as OUTBOX_FIELD
from ccmesh.outbox import Entry, carry, entries_of, mark
from ccmesh.retention import DELETE_MARKER_TTL_SECONDS
from routing.domain.wait_deadlines import WaitDeadline

log = logging.getLogger(__name__)

_KEY_TOKEN = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")


class StoreConflict(RuntimeError):
    """The record changed since it was read (another instance wrote it first)."""


class BadKey(ValueError):
    """An id that cannot be a KV key token."""


def token(value: str, what: str) -> str:
    if not _KEY_TOKEN.match(value):
        raise BadKey(f"{what} {value!r} must be 1-200 letters, digits, '-', '_' or '='")
    return value


@dataclass(frozen=True)
class StoredVersion:
    version: int
    digest: str
    files: list[tuple[str, str]]


class FlowStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    def _index_key(self, tenant: str, flow: str) -> str:
        return f"{token(tenant, 'tenant')}.{token(flow, 'flow')}.index"

    async def index(self, tenant: str, flow: str) -> FlowIndex:
        found = await get_json(self._kv, self._index_key(tenant, flow))
        return FlowIndex.from_dict(found[0]) if found else FlowIndex(flow=flow)

    async def change_index(self, tenant: str, flow: str, change: Callable[[FlowIndex], Any]) -> FlowIndex:
        """Apply `change` to the index atomically (retried with a fresh read on a lost race)."""
        result: list[FlowIndex] = []

        def mutate(old: bytes | None) -> bytes:
            index = FlowIndex.from_dict(orjson.loads(old)) if old else FlowIndex(flow=flow)
            change(index)
            result[:] = [index]
            return orjson.dumps(index.to_dict())

        await update_with(self._kv, self._index_key(tenant, flow), mutate)
        return result[0]

    async def put_version(self, tenant: str, flow: str, version: StoredVersion) -> bool:
        """Store a version once; False when that number is already taken."""
        key = f"{token(tenant, 'tenant')}.{token(flow, 'flow')}.v{version.version}"
        payload = {"version": version.version, "digest": version.digest, "files": version.files}
        try:
            await self._kv.create(key, orjson.dumps(payload))
        except KeyWrongLastSequenceError:
            return False
        return True

    async def version(self, tenant: str, flow: str, number: int) -> StoredVersion | None:
        found = await get_json(self._kv, f"{token(tenant, 'tenant')}.{token(flow, 'flow')}.v{number}")
        if found is None:
            return None
        data = found[0]
        return StoredVersion(int(data["version"]), str(data["digest"]), [(f[0], f[1]) for f in data["files"]])


class PolicyStore:
    """Run-time policies of a tenant: {name: [file, content]} in one key, read on every journey step."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @staticmethod
    def _key(tenant: str) -> str:
        return f"{token(tenant, 'tenant')}._policies"

    async def all(self, tenant: str) -> dict[str, tuple[str, str]]:
        found = await get_json(self._kv, self._key(tenant))
        return {name: (item[0], item[1]) for name, item in (found[0] if found else {}).items()}

    async def change(self, tenant: str, name: str, source: tuple[str, str] | None) -> list[str]:
        """Put (or, with None, remove) one policy; returns the names in force afterwards."""
        active: list[str] = []

        def mutate(old: bytes | None) -> bytes | None:
            policies = orjson.loads(old) if old else {}
            if source is None:
                policies.pop(name, None)
            else:
                policies[name] = list(source)
            active[:] = sorted(policies)
            return orjson.dumps(policies) if policies else None

        await update_with(self._kv, self._key(tenant), mutate)
        return active


def _kept() -> int:
    return 0


#: Journeys read with unsent messages whose next save is awaited; older ones are forgotten.
_UNSENT_KEPT = 1024


class JourneyStore:
    def __init__(self, kv: KeyValue, finished_ttl: Callable[[], int] = _kept) -> None:
        """`finished_ttl`: seconds an ended journey stays readable (0: kept), read per write so a
        changed retention applies without a restart."""
        self._kv = kv
        self._finished_ttl = finished_ttl
        #: Unsent messages of journeys read at a revision, until that revision is saved over.
        self._unsent: dict[tuple[str, int], list[Entry]] = {}

    @staticmethod
    def _key(tenant: str, journey_id: str) -> str:
        return f"{token(tenant, 'tenant')}.{token(journey_id, 'journey id')}"

    async def get(self, tenant: str, journey_id: str) -> tuple[Journey, int] | None:
        key = self._key(tenant, journey_id)
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        revision = int(entry.revision or 0)
        unsent = entries_of(entry.value)
        if unsent:
            # Messages of an earlier step not yet swept: the next save of this revision keeps them.
            self._unsent[(key, revision)] = unsent
            while len(self._unsent) > _UNSENT_KEPT:
                # Read but never saved over: their sweeper has sent them meanwhile.
                del self._unsent[next(iter(self._unsent))]
        data = orjson.loads(entry.value)
        data.pop(OUTBOX_FIELD, None)  # the outbox travels with the record, not in the journey
        return Journey.from_dict(data), revision

    def ttl_of(self, value: bytes) -> int:
        """The time to live a stored journey is written with (an ended one expires)."""
        return self._finished_ttl() if orjson.loads(value).get("status") == "ended" else 0

    async def save(self, tenant: str, journey: Journey, revision: int, announce: Sequence[Entry] = ()) -> int:
        """Write the journey if it is still at `revision` (0: must not exist yet), with the
        messages that `announce` its step in the same write (`ccmesh.outbox`)."""
        key = self._key(tenant, journey.journey_id)
        if announce:
            await mark(self._kv, key, time.time())  # first: a crash after the write leaves it
        unsent = self._unsent.pop((key, revision), [])
        value = carry(None, orjson.dumps(journey.to_dict()), [*unsent, *announce]) or b""
        ttl = self._finished_ttl() if journey.status == "ended" else 0
        try:
            if ttl:
                return await write_expiring(self._kv, key, value, last=revision, ttl=ttl)
            if revision == 0:
                return int(await self._kv.create(key, value))
            return int(await self._kv.update(key, value, last=revision))
        except KeyWrongLastSequenceError:
            raise StoreConflict(f"journey {journey.journey_id!r} changed concurrently") from None


class DeadlineStore:
    """The region's pending journey deadlines (`due.<tenant>.<journey>` in the journeys bucket)."""

    PREFIX = "due"

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._watcher: KeyWatch | None = None
        self._task: asyncio.Task[None] | None = None

    def _key(self, tenant: str, journey_id: str) -> str:
        return f"{self.PREFIX}.{token(tenant, 'tenant')}.{token(journey_id, 'journey id')}"

    async def put(self, deadline: WaitDeadline) -> None:
        await self._kv.put(self._key(*deadline.key), orjson.dumps(deadline.to_dict()))

    async def remove(self, deadline: WaitDeadline) -> None:
        """Remove the journey's entry if it is still for `deadline`'s wait: a newer wait's stays."""

        def drop(old: bytes | None) -> bytes | None:
            if old is None:
                return None
            try:
                stored = WaitDeadline.from_dict(orjson.loads(old))
            except (ValueError, KeyError, TypeError):
                return None  # unreadable: nothing can ever end it
            return None if stored.point == deadline.point else old

        await update_with(self._kv, self._key(*deadline.key), drop, ttl=DELETE_MARKER_TTL_SECONDS)

    async def follow(self, arm: Callable[[WaitDeadline], None], disarm: Callable[[str, str], None]) -> None:
        watcher = self._watcher = await KeyWatch.start(self._kv, f"{self.PREFIX}.*.*")
        loaded = asyncio.Event()

        async def run() -> None:
            async for entry in watcher:
                if entry is None:  # every entry stored before the watch began has been delivered
                    loaded.set()
                    continue
                _, tenant, journey_id = entry.key.split(".", 2)
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    disarm(tenant, journey_id)
                    continue
                try:
                    arm(WaitDeadline.from_dict(orjson.loads(entry.value)))
                except (ValueError, KeyError, TypeError):
                    # One unreadable entry must not stop the deadlines of every other journey.
                    log.exception("ignoring unreadable journey deadline %s", entry.key)

        self._task = asyncio.create_task(run(), name="journey-deadline-watch")
        waiter = asyncio.create_task(loaded.wait())
        await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            waiter.cancel()
            await self._task  # the watch ended before loading: raise its error

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):  # the connection may already be closed
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._watcher = None
        self._task = None
