"""Follow the config bucket live, so services pick up applied changes without a restart.

`ConfigWatcher` keeps the latest valid document of every key in memory and calls async
callbacks on each change. A stored value that does not validate (written by hand, or by a
newer schema) is logged by key and field path only, never by content, and ignored: the last
good document stays in effect.

    watcher = await ConfigWatcher.open(nc.jetstream())
    watcher.on_region_change("eu", apply_contact_center)   # called on load and on every change
    await watcher.start()
    ...
    await watcher.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from ccmesh.configplane.loader import DocumentError
from ccmesh.configplane.models import KINDS, ContactCenter, Model
from ccmesh.configplane.store import BUCKET_HISTORY, DEFAULT_BUCKET, decode
from ccmesh.kv import ensure_bucket
from ccmesh.kv_watch import KeyWatch

log = logging.getLogger(__name__)

#: Called with (kind, name, document) after every change; the document is None once deleted.
ChangeCallback = Callable[[str, str, Model | None], Awaitable[None]]
#: Called with the region's ContactCenter whenever it changes; None when the region has none.
RegionCallback = Callable[[ContactCenter | None], Awaitable[None]]


class ConfigWatcher:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._documents: dict[tuple[str, str], Model] = {}
        self._callbacks: list[ChangeCallback] = []
        self._watcher: KeyWatch | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()

    @classmethod
    async def open(
        cls, js: JetStreamContext, bucket: str = DEFAULT_BUCKET, *, replicas: int = 1
    ) -> ConfigWatcher:
        """A watcher over `bucket`, creating the bucket (with at least `replicas`) when needed."""
        return cls(await ensure_bucket(js, bucket, history=BUCKET_HISTORY, replicas=replicas))

    def on_change(self, callback: ChangeCallback) -> None:
        """Register `callback`; register before `start()` to also hear the documents already stored."""
        self._callbacks.append(callback)

    def on_region_change(self, region: str, callback: RegionCallback) -> None:
        """Call `callback` with the ContactCenter of `region` each time it changes (or disappears).

        Register before `start()` to be called with the one already stored, too.
        """
        delivered: list[ContactCenter | None] = [None]

        async def on_contact_center(kind: str, _name: str, _document: Model | None) -> None:
            if kind != "ContactCenter":
                return
            resolved = self.contact_center_for_region(region)
            if resolved != delivered[0]:
                delivered[0] = resolved
                await callback(resolved)

        self.on_change(on_contact_center)

    def current(self, kind: str, name: str) -> Model | None:
        return self._documents.get((kind, name))

    def documents(self, kind: str) -> list[Model]:
        return [doc for (k, name), doc in sorted(self._documents.items()) if k == kind]

    def contact_center_for_region(self, region: str) -> ContactCenter | None:
        """The ContactCenter whose spec.region is `region` (the first by name if, wrongly, several are)."""
        matching = [
            doc
            for doc in self.documents("ContactCenter")
            if isinstance(doc, ContactCenter) and doc.spec.region == region
        ]
        if len(matching) > 1:
            log.warning(
                "several ContactCenters claim region %s: %s; using %s",
                region,
                [doc.metadata.name for doc in matching],
                matching[0].metadata.name,
            )
        return matching[0] if matching else None

    async def start(self) -> None:
        """Start watching; returns once every document stored so far is loaded."""
        if self._task is not None:
            raise RuntimeError("ConfigWatcher already started")
        self._watcher = await KeyWatch.start(self._kv, ">")
        self._task = asyncio.create_task(self._follow(self._watcher), name="config-watcher")
        loaded = asyncio.create_task(self._loaded.wait())
        await asyncio.wait({loaded, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not loaded.done():
            loaded.cancel()
            await self._task  # it ended before loading: raise its error

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):  # the connection may already be closed
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._watcher = None
        self._task = None

    async def __aenter__(self) -> ConfigWatcher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _follow(self, watcher: KeyWatch) -> None:
        async for entry in watcher:
            if entry is None:  # everything stored before the watch began has been delivered
                self._loaded.set()
                continue
            await self._apply_entry(entry.key, entry.value, entry.revision or 0, entry.operation)

    async def _apply_entry(self, key: str, value: bytes | None, revision: int, operation: str | None) -> None:
        kind, _, name = key.partition(".")
        if kind not in KINDS:
            log.debug("ignoring config key %s: not a known kind", key)
            return
        document: Model | None
        if operation in (KV_DEL, KV_PURGE):
            if self._documents.pop((kind, name), None) is None:
                return
            document = None
        else:
            try:
                document = decode(value or b"", revision)
            except DocumentError as err:
                log.warning(
                    "ignoring invalid %s/%s at revision %s (bad fields: %s); keeping the last valid one",
                    kind,
                    name,
                    revision,
                    ", ".join(err.paths),
                )
                return
            self._documents[(kind, name)] = document
        for callback in list(self._callbacks):
            try:
                await callback(kind, name, document)
            except Exception:
                log.exception("config callback %r failed for %s/%s", callback, kind, name)
