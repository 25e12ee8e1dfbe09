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
from nats.js.errors import APIError, BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

#: Server error codes for "the subject's last sequence is not the one you expected".
_WRONG_LAST_SEQUENCE_CODES = (10071, 10164)
#: Server error code for "no server matches the placement (tags or cluster)".
_NO_SUITABLE_PEERS = 10005

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
) -> KeyValue:
    """Return the bucket `name`, creating it first when it does not exist.

    An existing bucket is returned as it is (its history, placement and replicas are not
    changed). `placement_tags` (e.g. `["region:eu"]`) keeps the bucket's data on servers
    with those tags, which is how data stays in its region.
    """
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        pass
    # nats-py's create_key_value drops `placement`, so the bucket's stream is declared here
    # with the same settings the NATS clients use for a KV stream, plus placement.
    config = api.StreamConfig(
        name=f"KV_{name}",
        subjects=[f"$KV.{name}.>"],
        allow_direct=True,
        allow_rollup_hdrs=True,
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=120.0,
        max_msgs_per_subject=history,
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


def _lost_race(err: Exception) -> bool:
    if isinstance(err, KeyWrongLastSequenceError):
        return True
    # `kv.delete(last=...)` surfaces the raw API error rather than the KV-specific one.
    return isinstance(err, APIError) and err.err_code in _WRONG_LAST_SEQUENCE_CODES


async def _read(kv: KeyValue, key: str) -> tuple[bytes | None, int]:
    """The key's value and revision; (None, 0) when it is absent or deleted."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None, 0
    return entry.value, entry.revision or 0


async def update_with(kv: KeyValue, key: str, mutate: Mutation, *, retries: int = 25) -> int:
    """Apply `mutate(old_value)` to `key` atomically and return the revision now in place.

    `mutate` must be pure: it is called again, with the newer value, after a lost race.
    It gets None when the key is absent. It returns the new value, the very same value to
    leave the key untouched (no write), or None to delete the key. The result is the
    revision holding the value after the call, or 0 when the key is absent afterwards.
    Raises `UpdateConflictError` after `retries` lost races.
    """
    for attempt in range(retries + 1):
        current, revision = await _read(kv, key)
        new_value = mutate(current)
        if new_value == current:
            return revision
        try:
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
