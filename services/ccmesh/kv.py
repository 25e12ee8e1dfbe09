"""Helpers over nats-py JetStream key-value buckets.

Every write that can race goes through `update_with`: it reads the value and its revision,
applies a pure function, and writes only if the revision is still the one it read
(`kv.create` for an absent key, `kv.update(..., last=revision)` otherwise). A lost race
is retried with a fresh read, so no read-modify-write update can be lost.

Reads see every acknowledged write (read-your-writes), also on a replicated bucket: the
services read a key right after writing it, or after another process wrote it and said so
in an event. nats-py's `kv.get` uses a direct get, which any replica answers, and a follower
still applying the last writes answers with an older revision. So every bucket handle is
opened here (`ensure_bucket`, `open_bucket`) as a `ReadYourWritesKV`: on a bucket with more
than one replica it reads from the stream leader (the non-direct message get), and it never
returns a revision older than one it wrote itself (a read served by a deposed leader is
retried until it has caught up). A one-replica bucket keeps the cheaper direct get: its
only server is the leader.

A handle also remembers the latest value it knows of each key (bounded): what it wrote, and what
a watch of the bucket saw (`observe`, fed by the processes' mirrors). `update_with` tries its
compare-and-set on that value first and reads the key only when the write loses (or the change
refuses or keeps the remembered value): a writer that knows the value reads it no more. A
remembered value is always the one stored at its revision, so a write conditioned on that
revision is exactly as safe as one after a fresh read.

Buckets are created idempotently: services start in any order, all at once, on an empty
cluster; a creation that races another or meets a cluster still electing leaders is retried
with back-off (`ccmesh.creation.retry_creation`). A bucket is kept at no fewer replicas than
asked for. A write that no server takes (the bucket's stream is electing a leader, or was created
a moment ago elsewhere in the cluster) was not stored, and is sent again for as long as a read
would wait for a leader.

    kv = await ensure_bucket(js, "cc-config", history=10)
    def increment(old: bytes | None) -> bytes:
        return str(int(old or b"0") + 1).encode()

    revision = await update_with(kv, "counter", increment)
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
import orjson
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    InvalidKeyError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
)
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, MSG_ROLLUP_SUBJECT, KeyValue, _is_key_valid
from nats.nuid import NUID

from ccmesh.creation import NO_SUITABLE_PEERS, retry_creation
from ccmesh.retention import Limits

#: Server error codes for "the subject's last sequence is not the one you expected".
_WRONG_LAST_SEQUENCE_CODES = (10071, 10164)
#: A bucket's stream is named after the bucket with this prefix.
KV_STREAM_PREFIX = "KV_"
#: What the NATS clients use for a KV stream: long enough for a retried write.
_KV_DUPLICATE_WINDOW_SECONDS = 120.0

#: How many keys a handle remembers the last written revision of (the oldest are forgotten).
_REMEMBERED_WRITES = 4096
#: How many keys a handle remembers the latest known value of (the least recent are forgotten).
_REMEMBERED_VALUES = 16384
#: How long a read waits for a replica to catch up with a revision its handle wrote.
_CATCH_UP_SECONDS = 2.0
#: How long a read of a key its handle wrote, found absent, is tried again (it may have expired).
_ABSENT_CATCH_UP_SECONDS = 0.25
#: How long a read waits for a stream that has no leader to answer it (an election takes seconds).
_LEADERLESS_SECONDS = 10.0
#: How long a leader-only read goes unanswered before it is asked again, the earlier asks still
#: waited for (the first answer wins). While the stream elects, the other servers drop the
#: request (no error comes back), so a read asked then alone would wait out the client's whole
#: request timeout (5 s) even when the new leader is there a moment later; a server merely slow
#: still answers the first ask.
_LEADER_READ_AGAIN_SECONDS = 1.0
#: How long a direct get waits for responders: a bucket created a moment ago on a cluster may not
#: have its direct-get subscription up yet; longer than this, the server that holds it is away.
_DIRECT_SETTLING_SECONDS = 1.0

Mutation = Callable[[bytes | None], bytes | None]
_T = TypeVar("_T")


class _Unknown:
    """The value of a write is not known (see `ReadYourWritesKV.remember_write`)."""


UNKNOWN = _Unknown()


class KVError(RuntimeError):
    """A key-value operation failed in a way the caller should report."""


class UpdateConflictError(KVError):
    """`update_with` lost the race on every attempt of its retry budget."""


class ReadYourWritesKV(KeyValue):
    """A bucket handle whose reads see every acknowledged write (see the module docstring).

    Writes are nats-py's (delete and purge are written here, to learn their revision); each
    remembers the revision it wrote for its key, and a later read of that key through this
    handle never returns an older one.
    """

    def __init__(
        self, name: str, stream: str, pre: str, js: JetStreamContext, *, replicas: int, direct: bool
    ) -> None:
        # Followers of a replicated stream answer direct gets; only the leader answers the
        # message get, and it has every acknowledged write.
        super().__init__(name=name, stream=stream, pre=pre, js=js, direct=direct and replicas <= 1)
        self.replicas = replicas
        # A write's message id: this handle's random prefix (as unlikely to recur as a NUID's) and
        # a counter, without NUID's per-id arithmetic in Python.
        self._write_prefix = NUID().next().decode()[:12]
        self._write_numbers = itertools.count()
        self._written: OrderedDict[str, int] = OrderedDict()
        #: Key -> (revision, value at it; None: deleted), the latest this handle knows of.
        self._values: OrderedDict[str, tuple[int, bytes | None]] = OrderedDict()

    @property
    def reads_from_leader(self) -> bool:
        return not self._direct

    def remember_write(self, key: str, revision: int, value: bytes | _Unknown | None = UNKNOWN) -> None:
        """Record that `revision` of `key` was written through this handle (with `value`; None:
        deleted; `UNKNOWN`: the value is not known here)."""
        if revision > self._written.get(key, 0):
            self._written[key] = revision
            self._written.move_to_end(key)
            while len(self._written) > _REMEMBERED_WRITES:
                self._written.popitem(last=False)
        if isinstance(value, _Unknown):
            self._values.pop(key, None)
        else:
            self.observe(key, value, revision)

    def observe(self, key: str, value: bytes | None, revision: int) -> None:
        """What a watch of the bucket saw: `value` (None: deleted or purged) at `revision` of `key`.
        Older than what the handle knows already: ignored."""
        known = self._values.get(key)
        if known is not None and known[0] >= revision:
            return
        self._values[key] = (revision, value)
        self._values.move_to_end(key)
        while len(self._values) > _REMEMBERED_VALUES:
            self._values.popitem(last=False)

    def known(self, key: str) -> tuple[bytes, int] | None:
        """The latest value of `key` this handle knows of, with its revision; None when it knows
        of none (or that the key was deleted). It may be behind the bucket: only a write
        conditioned on its revision may rely on it."""
        found = self._values.get(key)
        if found is None or found[1] is None:
            return None
        return found[1], found[0]

    def known_absent(self, key: str) -> int | None:
        """When this handle last saw `key` hold no value: the revision of its last entry then (0:
        none at all; else the deletion's marker). None when it knows a value, or nothing. Like
        `known`, it may be behind the bucket."""
        found = self._values.get(key)
        if found is None or found[1] is not None:
            return None
        return found[0]

    def known_revision(self, key: str) -> int:
        """The latest revision of `key` this handle knows of, a deletion's included (0: none)."""
        found = self._values.get(key)
        return found[0] if found is not None else 0

    def forget(self, key: str) -> None:
        """Drop the remembered value of `key` (it proved out of date)."""
        self._values.pop(key, None)

    async def _get(self, key: str, revision: int | None = None) -> KeyValue.Entry:
        floor = 0 if revision else self._written.get(key, 0)
        started = time.monotonic()
        attempt = 0
        while True:
            waited = time.monotonic() - started
            try:
                if self._direct:
                    entry = await super()._get(key, revision)
                else:
                    entry = await _first_answer(lambda: super(ReadYourWritesKV, self)._get(key, revision))
            except KeyDeletedError as deleted:
                # Deleted: the marker's revision counts like a value's.
                seen = (deleted.entry.revision or 0) if deleted.entry is not None else 0
                if seen >= floor or waited > _CATCH_UP_SECONDS:
                    if not revision:
                        self.observe(key, None, seen)
                    raise
            except KeyNotFoundError:
                # Nothing at all under a key this handle wrote: a replica that has not applied
                # the write yet, or the write has expired since (its time to live, the bucket's
                # maximum age). Only the first is worth a wait, and a short one; after it the
                # write counts as gone, so the next reads of the key do not wait again.
                if not floor:
                    if not revision:
                        self.observe(key, None, 0)
                    raise
                if waited > _ABSENT_CATCH_UP_SECONDS:
                    self._written.pop(key, None)
                    raise
            except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
                # The stream is electing a leader: nobody answers the leader-only read yet (or,
                # direct, the bucket is settling in just after its creation).
                if waited > (_DIRECT_SETTLING_SECONDS if self._direct else _LEADERLESS_SECONDS):
                    raise
            except (nats.errors.TimeoutError, TimeoutError):
                # Leader-only: the first ask ran out its whole request timeout; asked afresh.
                if self._direct or waited > _LEADERLESS_SECONDS:
                    raise
                continue
            else:
                # An older revision than this handle wrote: the replica that answered (a leader
                # deposed a moment ago) has not applied it yet.
                if (entry.revision or 0) >= floor or waited > _CATCH_UP_SECONDS:
                    if not revision:
                        self.observe(key, entry.value, entry.revision or 0)
                    return entry
            attempt += 1
            await asyncio.sleep(min(0.005 * 2**attempt, 0.1))

    async def _update(
        self,
        key: str,
        value: bytes,
        last: int | None = None,
        validate_keys: bool = True,
        msg_ttl: float | None = None,
    ) -> int:
        condition = {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(last or 0)}
        return await self.write(key, value, condition, msg_ttl=msg_ttl, validate_keys=validate_keys)

    async def put(self, key: str, value: bytes, validate_keys: bool = True) -> int:
        return await self.write(key, value, {}, validate_keys=validate_keys)

    async def delete(
        self, key: str, last: int | None = None, validate_keys: bool = True, msg_ttl: float | None = None
    ) -> bool:
        # nats-py's delete does not return the marker's revision, so the marker is written here.
        del msg_ttl  # ignored by nats-py too: a delete marker has no time to live
        headers = {KV_OP: KV_DEL}
        if last and last > 0:
            headers[api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value] = str(last)
        await self.write(key, b"", headers, validate_keys=validate_keys)
        return True

    async def purge(self, key: str, msg_ttl: float | None = None) -> bool:
        marker = {KV_OP: KV_PURGE, api.Header.ROLLUP.value: MSG_ROLLUP_SUBJECT}
        await self.write(key, b"", marker, msg_ttl=msg_ttl)
        return True

    async def write(
        self,
        key: str,
        value: bytes,
        headers: dict[str, str],
        *,
        msg_ttl: float | None = None,
        validate_keys: bool = True,
    ) -> int:
        """Store `value` under `key` with `headers` (a condition on the key's last revision, a
        deletion or purge marker, a rollup) and return the revision; every write of the handle
        comes here. Raises `KeyWrongLastSequenceError` when a condition no longer holds.

        A write no server takes is sent again, for as long as a read waits for a leader: "no
        responders" (the stream is electing a leader, or the server this client talks to has
        not yet heard where a stream created a moment ago lives) and a timeout (a server that
        is no longer the leader drops it). Every send carries the same message id, so the
        stream stores the write once even when an earlier send was stored and only its answer
        was lost (the answer to the next send is then the first one's revision)."""
        if validate_keys and not _is_key_valid(key):
            raise InvalidKeyError(key)
        sent = {**headers, api.Header.MSG_ID.value: f"{self._write_prefix}{next(self._write_numbers)}"}
        subject = f"{self._pre}{key}"
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                ack = await self._js.publish(subject, value, headers=sent, msg_ttl=msg_ttl)
                break
            except APIError as err:
                raise _refused(err) from None
            except NoStreamResponseError:
                if time.monotonic() - started > _LEADERLESS_SECONDS:
                    raise
                attempt += 1
                await asyncio.sleep(min(0.005 * 2**attempt, 0.1))
            except (nats.errors.TimeoutError, TimeoutError):
                if time.monotonic() - started > _LEADERLESS_SECONDS:
                    raise
        revision = int(ack.seq)
        self.remember_write(key, revision, None if KV_OP in headers else value)
        return revision


async def _first_answer(ask: Callable[[], Awaitable[_T]]) -> _T:
    """What the first of `ask`'s tries answers (or raises): asked again every
    `_LEADER_READ_AGAIN_SECONDS` while none has, each try bounded by the client's own timeout."""
    tries: list[asyncio.Future[_T]] = []
    try:
        while True:
            tries.append(asyncio.ensure_future(ask()))
            done, _ = await asyncio.wait(
                tries, timeout=_LEADER_READ_AGAIN_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if done:
                return done.pop().result()
    finally:
        for attempt in tries:
            if not attempt.done():
                attempt.cancel()
            elif not attempt.cancelled():
                attempt.exception()  # seen: a later try's answer is the one used


async def open_bucket(js: JetStreamContext, name: str) -> ReadYourWritesKV:
    """The existing bucket `name` as a read-your-writes handle; `BucketNotFoundError` when absent."""
    try:
        info = await js.stream_info(f"{KV_STREAM_PREFIX}{name}")
    except (BucketNotFoundError, nats.js.errors.NotFoundError):
        raise BucketNotFoundError from None
    return _handle(js, name, info.config)


def _handle(js: JetStreamContext, name: str, config: api.StreamConfig) -> ReadYourWritesKV:
    if (config.max_msgs_per_subject or 0) < 1:
        raise KVError(f"stream {KV_STREAM_PREFIX}{name} is not a key-value bucket")
    return ReadYourWritesKV(
        name,
        f"{KV_STREAM_PREFIX}{name}",
        f"$KV.{name}.",
        js,
        replicas=int(config.num_replicas or 1),
        direct=bool(config.allow_direct),
    )


async def ensure_bucket(
    js: JetStreamContext,
    name: str,
    *,
    history: int = 5,
    placement_tags: list[str] | None = None,
    replicas: int = 1,
    limits: Limits | None = None,
) -> ReadYourWritesKV:
    """Return the bucket `name`, creating it first when it does not exist.

    Without `limits`, an existing bucket keeps its history and limits. With `limits` (a row of
    `ccmesh.retention`), an existing bucket whose history, maximum age or maximum size differ is
    updated to them. An existing bucket with fewer than `replicas` replicas is raised to them
    (never lowered: a process configured with fewer does not take copies others asked for); its
    placement stays. `placement_tags` (e.g. `["region:eu"]`) keeps the bucket's data on servers
    with those tags, which is how data stays in its region. Safe to call from many processes at
    once on a cluster still starting (see `retry_creation`).
    """
    wanted = _bucket_config(name, history, placement_tags, replicas, limits or Limits())

    async def attempt() -> ReadYourWritesKV:
        try:
            existing = (await js.stream_info(wanted.name or "")).config
        except nats.js.errors.NotFoundError:
            # Two processes may create the bucket at once: an identical config is accepted
            # twice, a different one fails with "name in use" and the next attempt finds it.
            created = await js.add_stream(wanted)
            return _handle(js, name, created.config)
        return _handle(js, name, await _reconcile(js, existing, history, replicas, limits))

    try:
        return await retry_creation(f"bucket {name!r}", attempt)
    except APIError as err:
        if err.err_code == NO_SUITABLE_PEERS:
            raise KVError(
                f"cannot create bucket {name!r} with {replicas} replica(s) on servers tagged "
                f"{placement_tags or []}: no suitable servers ({err.description})"
            ) from err
        raise KVError(f"cannot create bucket {name!r}: {err.description}") from err


def _bucket_config(
    name: str, history: int, placement_tags: list[str] | None, replicas: int, limits: Limits
) -> api.StreamConfig:
    # nats-py's create_key_value drops `placement`, so the bucket's stream is declared here
    # with the same settings the NATS clients use for a KV stream, plus placement.
    return api.StreamConfig(
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


def _duplicate_window(limits: Limits) -> float:
    # nats-server refuses a duplicate window longer than the maximum age.
    window = _KV_DUPLICATE_WINDOW_SECONDS
    return min(window, float(limits.max_age_seconds)) if limits.max_age_seconds else window


async def _reconcile(
    js: JetStreamContext, config: api.StreamConfig, history: int, replicas: int, limits: Limits | None
) -> api.StreamConfig:
    """Bring an existing bucket's stream to `limits` (when given) and at least `replicas`."""
    too_few = int(config.num_replicas or 1) < replicas
    limits_differ = limits is not None and not (
        config.max_msgs_per_subject == history
        and int(config.max_age or 0) == limits.max_age_seconds
        and (config.max_bytes if config.max_bytes is not None else -1) == limits.max_bytes
        and config.allow_msg_ttl
    )
    if not (too_few or limits_differ):
        return config
    if limits is not None and limits_differ:
        config.max_msgs_per_subject = history
        # Buckets created before per-key TTLs existed get them too (nats-server 2.11+ allows
        # turning it on, never off).
        config.allow_msg_ttl = True
        config.max_age = float(limits.max_age_seconds)
        config.max_bytes = limits.max_bytes
        config.duplicate_window = _duplicate_window(limits)
    if too_few:
        config.num_replicas = replicas
    return (await js.update_stream(config)).config


def _refused(err: APIError) -> Exception:
    """What a write the server refused raises: `KeyWrongLastSequenceError` for a condition on
    the key's last revision that no longer holds, the server's own error otherwise."""
    if err.err_code in _WRONG_LAST_SEQUENCE_CODES:
        return KeyWrongLastSequenceError(description=err.description)
    return err


def _lost_race(err: Exception) -> bool:
    if isinstance(err, KeyWrongLastSequenceError):
        return True
    # `kv.delete(last=...)` surfaces the raw API error rather than the KV-specific one.
    return isinstance(err, APIError) and err.err_code in _WRONG_LAST_SEQUENCE_CODES


async def _read(kv: KeyValue, key: str) -> tuple[bytes | None, int]:
    """The key's value and revision; (None, 0) when it is absent or deleted."""
    value, revision, _ = await read_last(kv, key)
    return value, revision


async def read_last(kv: KeyValue, key: str) -> tuple[bytes | None, int, int]:
    """The key's value, its revision, and the revision of its last entry: the value's, or the
    delete marker's a deleted key reads as absent through (0 when nothing is stored). Raises
    what the read raises otherwise (no responders, a timeout)."""
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
    if isinstance(kv, ReadYourWritesKV):
        return await kv.write(key, value or b"", headers, msg_ttl=ttl or None)
    # nats-py's KeyValue has no write that both expires and rolls up: publish to the key's
    # subject as its own writes do.
    subject = f"{kv._pre}{key}"  # the bucket's subject prefix; nats-py exposes no getter
    try:
        ack = await kv._js.publish(subject, value or b"", headers=headers, msg_ttl=ttl or None)
    except APIError as err:
        raise _refused(err) from None
    return int(ack.seq)


async def update_with(
    kv: KeyValue, key: str, mutate: Mutation, *, retries: int = 25, ttl: int = 0, absent_first: bool = False
) -> int:
    """Apply `mutate(old_value)` to `key` atomically and return the revision now in place.

    `mutate` must be pure: it is called again, with the newer value, after a lost race.
    It gets None when the key is absent. It returns the new value, the very same value to
    leave the key untouched (no write), or None to delete the key. The result is the
    revision holding the value after the call, or 0 when the key is absent afterwards.
    With `ttl` (seconds), what is written expires that long after (see `write_expiring`), so
    neither the value nor a deletion's marker stays in the bucket for good.
    Raises `UpdateConflictError` after `retries` lost races.

    The first attempt starts from the value the handle remembers (see `ReadYourWritesKV.known`),
    or from the key's absence when the handle last read it absent (`known_absent`: a read then a
    change of a key that is new), and reads nothing: a write conditioned on its revision lands only if
    it is still the key's latest. When that write loses, or `mutate` refuses the remembered value
    or keeps it (both may be out of date), the key is read and `mutate` called again as usual.
    With `absent_first` (for keys that are new nearly always, e.g. a contact entering routing), a
    key the handle remembers nothing of is taken as absent the same way: `mutate(None)` is
    written as a creation, which fails if the key exists after all.
    """
    remembered = kv.known(key) if isinstance(kv, ReadYourWritesKV) else None
    absent_at = kv.known_absent(key) if isinstance(kv, ReadYourWritesKV) and remembered is None else None
    first = 0
    if remembered is not None or absent_at is not None or absent_first:
        tried, written = await _write_first(kv, key, mutate, remembered, ttl, absent_at or 0)
        if written is not None:
            return written
        first = int(tried)  # a write that lost the race is one of the attempts
    for attempt in range(first, retries + 1):
        current, revision, last = await read_last(kv, key)
        new_value = mutate(current)
        if new_value == current:
            return revision
        try:
            return await _write(kv, key, current, new_value, revision, last, ttl)
        except (KeyWrongLastSequenceError, APIError) as err:
            if not _lost_race(err):
                raise
        # Spread the retrying writers so the same ones do not collide again.
        await asyncio.sleep(random.random() * min(0.001 * 2**attempt, 0.05))  # noqa: S311 - jitter, not crypto
    raise UpdateConflictError(f"key {key!r} kept changing: gave up after {retries + 1} attempts")


async def _write(
    kv: KeyValue, key: str, current: bytes | None, new_value: bytes | None, revision: int, last: int, ttl: int
) -> int:
    """Write `new_value` over `current` (at `revision`; `last`: the key's last entry's revision)."""
    if ttl:
        written = await write_expiring(kv, key, new_value, last=last, ttl=ttl)
        return 0 if new_value is None else written
    if new_value is None:
        await kv.delete(key, last=revision)
        return 0
    if current is None:
        return await kv.create(key, new_value)
    return await kv.update(key, new_value, last=revision)


async def _write_first(
    kv: KeyValue, key: str, mutate: Mutation, remembered: tuple[bytes, int] | None, ttl: int, absent_at: int
) -> tuple[bool, int | None]:
    """One write of `mutate(remembered value)` conditioned on its revision (None: on the key's
    absence, its last entry at `absent_at`): whether a write was tried, and what `update_with`
    returns when it landed (else None: the caller reads the key)."""
    current, revision = remembered if remembered is not None else (None, 0)
    last = revision if remembered is not None else absent_at
    try:
        new_value = mutate(current)
    except Exception:
        return False, None  # perhaps refused only because the remembered value is out of date
    if new_value == current:
        return False, None  # unchanged: to be sure of it, the caller reads the latest value
    try:
        return True, await _write(kv, key, current, new_value, revision, last, ttl)
    except (KeyWrongLastSequenceError, APIError) as err:
        if not _lost_race(err):
            raise
    if isinstance(kv, ReadYourWritesKV):
        kv.forget(key)
    return True, None


async def get_json(kv: KeyValue, key: str) -> tuple[Any, int] | None:
    """The key's JSON value and revision, or None when it is absent."""
    value, revision = await _read(kv, key)
    if value is None:
        return None
    return orjson.loads(value), revision


async def put_json(kv: KeyValue, key: str, value: Any) -> int:
    """Store `value` as JSON unconditionally (last writer wins); returns the revision."""
    return await kv.put(key, orjson.dumps(value))
