"""Helpers over nats-py JetStream key-value buckets.

Every write that can race goes through `update_with`: it reads the value and its revision,
applies a pure function, and writes only if the revision is still the one it read
(`kv.create` for an absent key, `kv.update(..., last=revision)` otherwise). A lost race
is retried with a fresh read, so no read-modify-write update can be lost.

    kv = await ensure_bucket(js, "cc-config", history=10)
    def increment(old: bytes | None) -> bytes:
        return str(int(old or b"0") + 1).encode()

    revision = await update_with(kv, "counter", increment)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import orjson
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KV_OP, KV_PURGE, KeyValue

from ccmesh.retention import Limits

#: Server error codes for "the subject's last sequence is not the one you expected".
_WRONG_LAST_SEQUENCE_CODES = (10071, 10164)
#: Server error code for "no server matches the placement (tags or cluster)".
_NO_SUITABLE_PEERS = 10005
#: A bucket's stream is named after the bucket with this prefix.
KV_STREAM_PREFIX = "KV_"
#: What the NATS clients use for a KV stream: long enough for a retried write.
_KV_DUPLICATE_WINDOW_SECONDS = 120.0

Mutation = Callable[[bytes | None], bytes | None]


class KVError(RuntimeError):
    """A key-value operation failed in a way the caller should report."""


class UpdateConflictError(KVError):
    """`update_with` lost the race on every attempt of its retry budget."""


async def ensure_bucket(
    js: JetStreamContext,
    name: str,
    *,
    history: int = 5,
    placement_tags: list[str] | None = None,
    replicas: int = 1,
    limits: Limits | None = None,
) -> KeyValue:
    """Return the bucket `name`, creating it first when it does not exist.

    Without `limits`, an existing bucket is returned as it is (its history, placement and
    replicas are not changed). With `limits` (a row of `ccmesh.retention`), an existing bucket
    whose history, maximum age or maximum size differ is updated to them; its placement and
    replicas stay. `placement_tags` (e.g. `["region:eu"]`) keeps the bucket's data on servers
    with those tags, which is how data stays in its region.
    """
    try:
        kv = await js.key_value(name)
    except BucketNotFoundError:
        pass
    else:
        if limits is not None:
            await _update_limits(js, name, history, limits)
        return kv
    limits = limits or Limits()
    # nats-py's create_key_value drops `placement`, so the bucket's stream is declared here
    # with the same settings the NATS clients use for a KV stream, plus placement.
    config = api.StreamConfig(
        name=f"{KV_STREAM_PREFIX}{name}",
        subjects=[f"$KV.{name}.>"],
        allow_direct=True,
        allow_rollup_hdrs=True,
        # Writers may give a key its own time to live (`kv.create(..., msg_ttl=)`).
        allow_msg_ttl=True,
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=_duplicate_window(limits),
        max_msgs_per_subject=history,
        max_age=float(limits.max_age_seconds) or None,
        max_bytes=limits.max_bytes,
        max_msgs=-1,
        max_consumers=-1,
        num_replicas=replicas,
        placement=api.Placement(tags=placement_tags) if placement_tags else None,
    )
    try:
        # Two processes may create the bucket at once: an identical config is accepted twice.
        await js.add_stream(config)
    except APIError as err:
        if err.err_code == _NO_SUITABLE_PEERS:
            raise KVError(
                f"cannot create bucket {name!r} with {replicas} replica(s) on servers tagged "
                f"{placement_tags or []}: no suitable servers ({err.description})"
            ) from err
        raise KVError(f"cannot create bucket {name!r}: {err.description}") from err
    return await js.key_value(name)


def _duplicate_window(limits: Limits) -> float:
    # nats-server refuses a duplicate window longer than the maximum age.
    window = _KV_DUPLICATE_WINDOW_SECONDS
    return min(window, float(limits.max_age_seconds)) if limits.max_age_seconds else window


async def _update_limits(js: JetStreamContext, name: str, history: int, limits: Limits) -> None:
    config = (await js.stream_info(f"{KV_STREAM_PREFIX}{name}")).config
    if (
        config.max_msgs_per_subject == history
        and int(config.max_age or 0) == limits.max_age_seconds
        and (config.max_bytes if config.max_bytes is not None else -1) == limits.max_bytes
        and config.allow_msg_ttl
    ):
        return
    config.max_msgs_per_subject = history
    # Buckets created before per-key TTLs existed get them too (nats-server 2.11+ allows turning
    # it on, never off).
    config.allow_msg_ttl = True
    config.max_age = float(limits.max_age_seconds)
    config.max_bytes = limits.max_bytes
    config.duplicate_window = _duplicate_window(limits)
    try:
        await js.update_stream(config)
    except APIError as err:
        raise KVError(f"cannot update the limits of bucket {name!r}: {err.description}") from err


def _lost_race(err: Exception) -> bool:
    if isinstance(err, KeyWrongLastSequenceError):
        return True
    # `kv.delete(last=...)` surfaces the raw API error rather than the KV-specific one.
    return isinstance(err, APIError) and err.err_code in _WRONG_LAST_SEQUENCE_CODES


async def _read(kv: KeyValue, key: str) -> tuple[bytes | None, int]:
    """The key's value and revision; (None, 0) when it is absent or deleted."""
    value, revision, _ = await _read_last(kv, key)
    return value, revision


async def _read_last(kv: KeyValue, key: str) -> tuple[bytes | None, int, int]:
    """The key's value, its revision, and the revision of its last entry: the value's, or the
    delete marker's a deleted key reads as absent through (0 when nothing is stored)."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError as err:
        marker = getattr(err, "entry", None)
        return None, 0, int(marker.revision or 0) if marker is not None else 0
    return entry.value, entry.revision or 0, entry.revision or 0


async def write_expiring(kv: KeyValue, key: str, value: bytes | None, *, last: int | None, ttl: int) -> int:
    """Write `value` to `key` if its revision is still `last` (0: absent; None: whatever it is),
    expiring `ttl` seconds on (0: never).

    The write replaces every earlier revision of the key (a subject rollup), so once it expires
    the key is gone, not back at an older revision. `value` None purges the key, leaving a
    marker (watchers see the deletion) that expires `ttl` seconds later too. Returns the new
    revision; raises `KeyWrongLastSequenceError` when the key is no longer at `last`.
    """
    headers = {api.Header.ROLLUP.value: "sub"}
    if last is not None:
        headers[api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value] = str(last)
    if value is None:
        headers[KV_OP] = KV_PURGE
    # nats-py's KeyValue has no write that both expires and rolls up: publish to the key's
    # subject as its own writes do.
    subject = f"{kv._pre}{key}"  # the bucket's subject prefix; nats-py exposes no getter
    try:
        ack = await kv._js.publish(subject, value or b"", headers=headers, msg_ttl=ttl or None)
    except APIError as err:
        if err.err_code in _WRONG_LAST_SEQUENCE_CODES:
            raise KeyWrongLastSequenceError(description=err.description) from None
        raise
    return int(ack.seq)


async def update_with(kv: KeyValue, key: str, mutate: Mutation, *, retries: int = 25, ttl: int = 0) -> int:
    """Apply `mutate(old_value)` to `key` atomically and return the revision now in place.

    `mutate` must be pure: it is called again, with the newer value, after a lost race.
    It gets None when the key is absent. It returns the new value, the very same value to
    leave the key untouched (no write), or None to delete the key. The result is the
    revision holding the value after the call, or 0 when the key is absent afterwards.
    With `ttl` (seconds), what is written expires that long after (see `write_expiring`), so
    neither the value nor a deletion's marker stays in the bucket for good.
    Raises `UpdateConflictError` after `retries` lost races.
    """
    for attempt in range(retries + 1):
        current, revision, last = await _read_last(kv, key)
        new_value = mutate(current)
        if new_value == current:
            return revision
        try:
            if ttl:
                written = await write_expiring(kv, key, new_value, last=last, ttl=ttl)
                return 0 if new_value is None else written
            if new_value is None:
                await kv.delete(key, last=revision)
                return 0
            if current is None:
                return await kv.create(key, new_value)
            return await kv.update(key, new_value, last=revision)
        except (KeyWrongLastSequenceError, APIError) as err:
            if not _lost_race(err):
                raise
        # Spread the retrying writers so the same ones do not collide again.
        await asyncio.sleep(random.random() * min(0.001 * 2**attempt, 0.05))  # noqa: S311 - jitter, not crypto
    raise UpdateConflictError(f"key {key!r} kept changing: gave up after {retries + 1} attempts")


async def get_json(kv: KeyValue, key: str) -> tuple[Any, int] | None:
    """The key's JSON value and revision, or None when it is absent."""
    value, revision = await _read(kv, key)
    if value is None:
        return None
    return orjson.loads(value), revision


async def put_json(kv: KeyValue, key: str, value: Any) -> int:
    """Store `value` as JSON unconditionally (last writer wins); returns the revision."""
    return await kv.put(key, orjson.dumps(value))
