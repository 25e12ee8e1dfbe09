"""Create or update every stream, bucket and object store of a region from the retention table.

The services call `ensure_region_stores` on start (and again when the region's ContactCenter
changes its retention); the operator calls it on every reconcile. Both read the same table,
`ccmesh.retention`, so a store has the same limits whoever created it. An existing store whose
limits differ is updated in place; its placement and replicas are left as they are.

Streams allow direct gets: a contact's history is read with them (`ccmesh.contact_history`), with
no consumer to create and delete per read; a stream created before that is updated in place.

Every service creates the region's stores on start, so on an empty cluster five processes may
create the same stream at once: each store is checked and created or updated idempotently, and
a race or a cluster still electing leaders is retried with back-off (`ccmesh.creation`).
A store is kept at no fewer replicas than asked for (raised in place, never lowered).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from nats.js.object_store import ObjectStore

from ccmesh import retention_ttl
from ccmesh.creation import retry_creation
from ccmesh.kv import KV_STREAM_PREFIX, KVError, ensure_bucket
from ccmesh.retention import GLOBAL_STORES, STORES, Limits, RetentionPolicy, StoreClass, StoreKind

#: A repeated `Nats-Msg-Id` within this window is stored once (retried publishes).
STREAM_DUPLICATE_WINDOW_SECONDS = 24 * 3600.0
#: An object store's stream is named after the bucket with this prefix.
OBJECT_STREAM_PREFIX = "OBJ_"


def stream_name(store: StoreClass, region: str) -> str:
    """The JetStream stream holding the store's data (buckets and object stores have one too)."""
    name = store.name(region)
    if store.kind is StoreKind.BUCKET:
        return f"{KV_STREAM_PREFIX}{name}"
    if store.kind is StoreKind.OBJECTS:
        return f"{OBJECT_STREAM_PREFIX}{name}"
    return name


def _duplicate_window(limits: Limits, window: float) -> float:
    # nats-server refuses a duplicate window longer than the maximum age.
    return min(window, float(limits.max_age_seconds)) if limits.max_age_seconds else window


def _limits_differ(config: api.StreamConfig, limits: Limits) -> bool:
    max_bytes = config.max_bytes if config.max_bytes is not None else -1
    return int(config.max_age or 0) != limits.max_age_seconds or max_bytes != limits.max_bytes


async def _update(
    js: JetStreamContext,
    config: api.StreamConfig,
    limits: Limits,
    window: float,
    replicas: int,
    append_only: bool = False,
) -> None:
    config.allow_direct = True
    if append_only:
        # The server accepts turning these on for an existing stream, never off again.
        config.deny_delete = config.deny_purge = True
    if config.subjects and not str(config.name or "").startswith((KV_STREAM_PREFIX, OBJECT_STREAM_PREFIX)):
        # Per-message TTLs let a data class expire sooner than the rest of its stream.
        config.allow_msg_ttl = True
    config.max_age = float(limits.max_age_seconds)
    config.max_bytes = limits.max_bytes
    config.duplicate_window = _duplicate_window(limits, window)
    config.num_replicas = max(int(config.num_replicas or 1), replicas)
    await js.update_stream(config)


def _creation_error(what: str, err: APIError) -> KVError:
    return KVError(f"cannot create or update {what}: {err.description}")


async def ensure_stream(
    js: JetStreamContext,
    store: StoreClass,
    region: str,
    limits: Limits,
    *,
    placement_tags: Sequence[str] = (),
    replicas: int = 1,
    duplicate_window_seconds: float = STREAM_DUPLICATE_WINDOW_SECONDS,
) -> None:
    """Create the region's stream of `store` with `limits`, or bring an existing one to them
    (and to at least `replicas`)."""
    name = store.name(region)
    window = _duplicate_window(limits, duplicate_window_seconds)

    async def attempt() -> None:
        try:
            existing = (await js.stream_info(name)).config
        except NotFoundError:
            # A stream another process is creating at the same moment with the same config is
            # accepted twice; with another config, "name in use" and the next attempt updates it.
            await js.add_stream(
                api.StreamConfig(
                    name=name,
                    subjects=list(store.subjects(region)),
                    storage=api.StorageType.FILE,
                    num_replicas=replicas,
                    max_age=float(limits.max_age_seconds) or None,
                    max_bytes=limits.max_bytes,
                    duplicate_window=window,
                    allow_direct=True,
                    allow_msg_ttl=True,
                    deny_delete=store.append_only,
                    deny_purge=store.append_only,
                    placement=api.Placement(tags=list(placement_tags)) if placement_tags else None,
                )
            )
            return
        if (
            _limits_differ(existing, limits)
            or not existing.allow_direct
            or not existing.allow_msg_ttl
            or existing.duplicate_window != window
            or int(existing.num_replicas or 1) < replicas
            or (store.append_only and not (existing.deny_delete and existing.deny_purge))
        ):
            await _update(js, existing, limits, duplicate_window_seconds, replicas, store.append_only)

    try:
        await retry_creation(f"stream {name!r}", attempt)
    except APIError as err:
        raise _creation_error(f"stream {name!r}", err) from err


async def ensure_object_store(
    js: JetStreamContext,
    store: StoreClass,
    region: str,
    limits: Limits,
    *,
    placement_tags: Sequence[str] = (),
    replicas: int = 1,
) -> None:
    """Create the region's object store of `store` with `limits`, or bring an existing one to them
    (and to at least `replicas`)."""
    await ensure_object_bucket(
        js, store.name(region), limits=limits, placement_tags=placement_tags, replicas=replicas
    )


async def ensure_object_bucket(
    js: JetStreamContext,
    bucket: str,
    *,
    limits: Limits | None = None,
    placement_tags: Sequence[str] = (),
    replicas: int = 1,
    description: str | None = None,
) -> ObjectStore:
    """The object store `bucket`, created when absent (with `limits`, or none), and kept at
    `limits` when given and at no fewer than `replicas`; safe from many processes at once."""

    async def attempt() -> ObjectStore:
        try:
            existing = (await js.stream_info(f"{OBJECT_STREAM_PREFIX}{bucket}")).config
        except NotFoundError:
            wanted = limits or Limits()
            return await js.create_object_store(
                bucket,
                config=api.ObjectStoreConfig(
                    bucket=bucket,
                    description=description,
                    ttl=float(wanted.max_age_seconds) or None,
                    max_bytes=wanted.max_bytes,
                    replicas=replicas,
                    placement=api.Placement(tags=list(placement_tags)) if placement_tags else None,
                ),
            )
        too_few = int(existing.num_replicas or 1) < replicas
        if limits is not None and (too_few or _limits_differ(existing, limits)):
            await _update(js, existing, limits, float(existing.duplicate_window or 0) or 120.0, replicas)
        elif too_few:
            existing.num_replicas = replicas
            await js.update_stream(existing)
        return await js.object_store(bucket)

    try:
        return await retry_creation(f"object store {bucket!r}", attempt)
    except APIError as err:
        raise _creation_error(f"object store {bucket!r}", err) from err


async def ensure_store(
    js: JetStreamContext,
    store: StoreClass,
    region: str,
    limits: Limits,
    *,
    placement_tags: Sequence[str] = (),
    replicas: int = 1,
) -> None:
    if store.kind is StoreKind.STREAM:
        await ensure_stream(js, store, region, limits, placement_tags=placement_tags, replicas=replicas)
    elif store.kind is StoreKind.OBJECTS:
        await ensure_object_store(js, store, region, limits, placement_tags=placement_tags, replicas=replicas)
    else:
        await ensure_bucket(
            js,
            store.name(region),
            history=store.history,
            placement_tags=list(placement_tags),
            replicas=replicas,
            limits=limits,
        )


async def ensure_region_stores(
    js: JetStreamContext,
    region: str,
    policy: RetentionPolicy,
    *,
    placement_tags: Sequence[str] = (),
    replicas: int = 1,
) -> None:
    """Create (or update) every store of the region, placed by `placement_tags`, and the
    shared buckets (no placement: they hold no personal data) with the table's limits."""
    for store in STORES:
        await ensure_store(
            js, store, region, policy.of(store), placement_tags=placement_tags, replicas=replicas
        )
    for store in GLOBAL_STORES:
        await ensure_store(js, store, region, store.defaults, replicas=replicas)


class RegionStores:
    """A region's stores kept at the region's retention, applied again only when it changes."""

    def __init__(
        self, js: JetStreamContext, region: str, *, placement_tags: Sequence[str] = (), replicas: int = 1
    ) -> None:
        self._js = js
        self._region = region
        self._placement_tags = tuple(placement_tags)
        self._replicas = replicas
        #: The policy last applied; None before the first `apply`.
        self.applied: RetentionPolicy | None = None

    async def apply(self, policy: RetentionPolicy) -> None:
        if policy == self.applied:
            return
        await ensure_region_stores(
            self._js, self._region, policy, placement_tags=self._placement_tags, replicas=self._replicas
        )
        # Only now that the streams accept per-message TTLs may this process's events carry them.
        retention_ttl.apply(self._region, policy)
        self.applied = policy


async def list_objects(js: JetStreamContext, bucket: str) -> list[api.ObjectInfo]:
    """Every live object of the object store `bucket` (none when it is empty or absent)."""
    try:
        store = await js.object_store(bucket)
        return list(await store.list(ignore_deletes=True))
    except NotFoundError:
        return []


async def purge_object(js: JetStreamContext, bucket: str, info: api.ObjectInfo) -> None:
    """Remove an object with no trace: its chunks and its description both leave the stream.

    An ordinary delete keeps a marker carrying the object's name (which may name a contact);
    an erasure or a released hold must leave nothing, so both subjects are purged instead."""
    stream = f"{OBJECT_STREAM_PREFIX}{bucket}"
    name = base64.urlsafe_b64encode(info.name.encode()).decode()
    if info.nuid:
        await js.purge_stream(stream, subject=f"$O.{bucket}.C.{info.nuid}")
    await js.purge_stream(stream, subject=f"$O.{bucket}.M.{name}")


async def stream_names(js: JetStreamContext) -> list[str]:
    """The name of every stream on the server."""
    names: list[str] = []
    while True:  # the stream list comes in pages
        page = await js.streams_info(offset=len(names))
        if not page:
            break
        names.extend(info.config.name or "" for info in page)
    return names


async def region_object_stores(js: JetStreamContext, region: str) -> list[str]:
    """The buckets of every object store of `region` on the server, by the `-<region>` suffix,
    so object stores that services add (recordings, training sets) are found too."""
    return [
        name[len(OBJECT_STREAM_PREFIX) :]
        for name in await stream_names(js)
        if name.startswith(OBJECT_STREAM_PREFIX) and name.endswith(f"-{region}")
    ]
