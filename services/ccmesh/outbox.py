"""A state change and the messages that announce it, written as one KV revision.

A use case that changes a record and then publishes what changed has two writes; a crash (or a
NATS restart) between them loses the announcement while the state stays changed. Here the
messages travel inside the record's own value (its `_outbox`), so they are stored by the same
compare-and-set write as the state; the writer then publishes them as before, and notes them in
its `SentIds`. The record's next write by that process drops what it sent; a sweeper in every
process removes the entries its own process sent once they are `after_seconds` old, and
publishes again (then removes) other processes' entries left `FOREIGN_FACTOR` times as long.
Each publish carries the entry's `Nats-Msg-Id` (fixed by the fact, see
`ccmesh.envelope.stable_event_id`), so the stream drops a republish of a message sent already.
A crash between the steps therefore delays a message by at most a sweep interval or two
(`after_seconds` x `FOREIGN_FACTOR`, plus the sweep's jitter), never an offer timeout.

    entries = [entry_of_event(event, region, at=time.time())]
    value = carry(old_value, new_value, add=entries)   # inside the store's pure mutation
    ... write value with the revision check, then publish the event as usual ...
    outbox = Outbox(kv, js_publisher(js))
    await outbox.start()                  # fed by `outbox.note` from a watch the process has, or
    await outbox.start(markers=True)      # from marker keys writers put first (`mark`)

Values must be JSON objects; readers ignore the `_outbox` field. The stream's duplicate window
must be longer than the sweep delay (the events stream keeps 24 h), or a republish after it
would be stored twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from ccmesh import naming, retention_ttl
from ccmesh.kv import ReadYourWritesKV, update_with, write_expiring
from ccmesh.kv_watch import KeyWatch
from ccmesh.retention import DELETE_MARKER_TTL_SECONDS
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

#: The field of a stored JSON object holding its unsent messages.
FIELD = "_outbox"
_MARK = b'"' + FIELD.encode() + b'"'
#: How long an entry may wait for its writer's own publish before its writer's sweeper takes
#: it out (or, unsure it was sent, sends it again).
DEFAULT_AFTER_SECONDS = 1.0
#: Another process's entries are left to their writer this many times longer before a sweeper
#: sends them: the writer is gone, or they are still in its record because it is slow.
FOREIGN_FACTOR = 2.0
#: Records a sweep flushes at once.
SWEEP_CONCURRENCY = 16


class OutboxError(ValueError):
    """A value that cannot carry an outbox (not a JSON object) or an unreadable entry."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message to publish: where, its de-duplication id, its bytes, when it was staged.

    `tag` names what the message is about in the record (e.g. a reservation id), so a store can
    drop messages about something the record no longer holds (see `carry`'s `keep`).
    """

    subject: str
    msg_id: str
    data: bytes
    at: float
    tag: str = ""

    def to_list(self) -> list[Any]:
        return [self.subject, self.msg_id, base64.b64encode(self.data).decode(), self.at, self.tag]

    @classmethod
    def from_list(cls, raw: Any) -> Entry:
        try:
            subject, msg_id, data, at, tag = raw
            return cls(str(subject), str(msg_id), base64.b64decode(data), float(at), str(tag))
        except (TypeError, ValueError) as error:
            raise OutboxError(f"unreadable outbox entry {raw!r}: {error}") from None


def entry_of_event(event: events_pb2.Event, region: str, *, at: float, tag: str = "") -> Entry:
    """The entry publishing `event` on the region's event stream, as `EventPublisher` does."""
    if not event.event_id:
        raise OutboxError("event_id is required: it is the de-duplication key")
    kind = event.WhichOneof("payload")
    if kind is None:
        raise OutboxError(f"event {event.event_id!r} has no payload")
    subject = naming.event_subject(region, event.tenant.tenant_id, kind, event.contact_id)
    return Entry(subject, event.event_id, event.SerializeToString(), at, tag)


def _object(value: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise OutboxError(f"an outbox needs a JSON object value: {error}") from None
    if not isinstance(data, dict):
        raise OutboxError(f"an outbox needs a JSON object value, got {type(data).__name__}")
    return data


def entries_of(value: bytes | None) -> list[Entry]:
    """The unsent messages a stored value carries (none for an absent value)."""
    if not value or _MARK not in value:
        return []
    return [Entry.from_list(raw) for raw in _object(value).get(FIELD, ())]


def _with(value: bytes, entries: Sequence[Entry]) -> bytes:
    data = _object(value) if _MARK in value else None
    if data is None:
        if not entries:
            return value
        # The usual case (a freshly encoded record): append the field without re-encoding it all.
        stripped = value.rstrip()
        if not stripped.endswith(b"}"):
            raise OutboxError("an outbox needs a JSON object value")
        body = stripped[:-1].rstrip()
        separator = b"" if body.endswith(b"{") else b","
        field = orjson.dumps(FIELD) + b":" + orjson.dumps([e.to_list() for e in entries])
        return body + separator + field + b"}"
    if entries:
        data[FIELD] = [e.to_list() for e in entries]
    else:
        data.pop(FIELD, None)
    return orjson.dumps(data)


def carry(
    old: bytes | None,
    new: bytes | None,
    add: Iterable[Entry] = (),
    keep: Callable[[Entry], bool] | None = None,
) -> bytes | None:
    """`new` carrying the unsent messages of `old` (those `keep` accepts) and then `add`.

    Every write of a record that may carry messages goes through this, so a state change never
    drops a message still waiting to be sent. A deleted record (`new` None) takes its messages
    with it: whatever removed it announces its own end.
    """
    if new is None:
        return None
    pending = [e for e in entries_of(old) if keep is None or keep(e)]
    known = {e.msg_id for e in pending}
    pending.extend(e for e in add if e.msg_id not in known)
    return _with(new, pending)


def without(value: bytes | None, msg_ids: Iterable[str]) -> bytes | None:
    """`value` with the messages `msg_ids` taken out of its outbox (they were sent)."""
    if value is None:
        return None
    sent = set(msg_ids)
    entries = entries_of(value)
    left = [e for e in entries if e.msg_id not in sent]
    if len(left) == len(entries):
        return value
    return _with(value, left)


def due(entries: Iterable[Entry], now: float, after_seconds: float) -> list[Entry]:
    """The entries staged at least `after_seconds` ago: their writer had its chance to send them."""
    return [e for e in entries if now - e.at >= after_seconds]


class SentIds:
    """The ids of the latest messages this process published (the stream acknowledged them).

    A writer that carries a record's entries over (`carry`'s `keep`) drops those it knows are
    sent, so a record written again soon leaves nothing for a sweeper to send twice.
    """

    def __init__(self, size: int = 65536) -> None:
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        self._size = size

    def add(self, msg_id: str) -> None:
        if msg_id in self._ids:
            return
        self._ids.add(msg_id)
        self._order.append(msg_id)
        while len(self._order) > self._size:
            self._ids.discard(self._order.popleft())

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


#: Marker keys (`outbox.<record key>`) name the records that may carry entries in buckets whose
#: records no watch of the process follows anyway: sweepers watch these few keys, not them all.
MARKER_PREFIX = "outbox"


def marker_key(key: str) -> str:
    return f"{MARKER_PREFIX}.{key}"


async def mark(kv: KeyValue, key: str, at: float) -> None:
    """Before a write that stages entries in `key`: tell the sweepers of a marker-swept bucket
    (`Outbox.start(markers=True)`) to look at it. Written first, so a crash after the record's
    write always leaves its marker; a marker whose record carries nothing is removed by a sweep."""
    await kv.put(marker_key(key), orjson.dumps(at))


Publish = Callable[[Entry], Awaitable[None]]


def js_publisher(js: JetStreamContext, timeout: float = 5.0) -> Publish:
    """Publishes an entry to JetStream with its `Nats-Msg-Id`, so a repeat is dropped."""

    async def publish(entry: Entry) -> None:
        headers = retention_ttl.event_headers(entry.subject, entry.msg_id)
        await js.publish(entry.subject, entry.data, headers=headers, timeout=timeout)

    return publish


class Outbox:
    """Sends what records of one bucket still carry: every process runs one per bucket.

    It learns which keys carry entries through `note` (fed by a watch: its own from `start`, or
    one the process already has), and every sweep sends the entries older than `after_seconds`
    and removes them with a revision-checked write. Several processes sweeping the same key send
    duplicates the stream drops, and only one removal changes the value.
    """

    def __init__(
        self,
        kv: KeyValue,
        publish: Publish,
        *,
        after_seconds: float = DEFAULT_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
        ttl_of: Callable[[bytes], int] | None = None,
        sent: SentIds | None = None,
    ) -> None:
        """`ttl_of`: the time to live (seconds, 0: none) a value is written with, for buckets
        whose writers give some records one; the removal keeps it. `sent`: what the writers of
        this process published, removed without being sent again."""
        self._kv = kv
        self._publish = publish
        self.after_seconds = after_seconds
        self._clock = clock
        self._ttl_of = ttl_of
        self._known = sent if sent is not None else SentIds(0)
        #: Key -> when its oldest unsent entry was staged (or its marker written).
        self._oldest: dict[str, float] = {}
        #: Records named by a marker key.
        self._marked: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0

    @property
    def pending_keys(self) -> int:
        return len(self._oldest)

    def note(self, key: str, value: bytes | None) -> None:
        """What a watch saw stored at `key` (None: deleted)."""
        if not value or _MARK not in value:
            self._oldest.pop(key, None)
            return
        try:
            entries = entries_of(value)
        except OutboxError:
            log.exception("ignoring the unreadable outbox of %s", key)
            self._oldest.pop(key, None)
            return
        if entries:
            self._oldest[key] = min(e.at for e in entries)
        else:
            self._oldest.pop(key, None)

    async def sweep(self) -> int:
        """Send and remove every entry due now; the number of entries sent."""
        now = self._clock()
        keys = [key for key, oldest in list(self._oldest.items()) if now - oldest >= self.after_seconds]
        if not keys:
            return 0
        # Keys go side by side: one waiting out a publish's timeout (its stream electing a
        # leader) would otherwise hold every key after it back for as long.
        limit = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def flush_one(key: str) -> int:
            async with limit:
                try:
                    return await self.flush(key, now)
                except Exception:
                    # The next sweep tries again; one key's trouble must not hold up the others.
                    log.warning("outbox of %s: sending failed; trying again", key, exc_info=True)
                    return 0

        return sum(await asyncio.gather(*(flush_one(key) for key in keys)))

    def note_marker(self, marker: str, value: bytes | None) -> None:
        """What a watch of the markers saw at `marker` (None: removed)."""
        key = marker[len(MARKER_PREFIX) + 1 :]
        if value is None:
            self._marked.discard(key)
            return
        try:
            at = float(orjson.loads(value))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            at = 0.0  # unreadable: looked at by the next sweep
        self._marked.add(key)
        self._oldest[key] = min(at, self._oldest.get(key, at))

    async def flush(self, key: str, now: float | None = None) -> int:
        """Send the due entries `key` carries, then remove them from it."""
        now = self._clock() if now is None else now
        marker_revision = await self._marker_revision(key) if key in self._marked else 0
        # A marked record is always read: its marker may be removed below, and only the record as
        # it is now may say that nothing is left (see `_remembered` for the others).
        value = None if key in self._marked else self._remembered(key)
        if not entries_of(value):
            # Nothing left to send is only believed from the record as it is now.
            try:
                value = (await self._kv.get(key)).value
            except KeyNotFoundError:
                await self._unmark(key, marker_revision)
                self._oldest.pop(key, None)
                return 0
        entries = entries_of(value)
        if not entries:
            await self._unmark(key, marker_revision)
            self._oldest.pop(key, None)
            return 0
        # What this process published goes without sending; another writer's entries get
        # their writer's own sweep first, so only one process usually touches a record.
        known = [e for e in due(entries, now, self.after_seconds) if e.msg_id in self._known]
        foreign = [
            e for e in due(entries, now, self.after_seconds * FOREIGN_FACTOR) if e.msg_id not in self._known
        ]
        if not known and not foreign:
            self.note(key, value)
            return 0
        for message in foreign:
            await self._publish(message)
        ids = {e.msg_id for e in (*known, *foreign)}
        ttl = self._ttl_of(value) if self._ttl_of is not None and value else 0
        left: list[Entry] = []

        def take_out(old: bytes | None) -> bytes | None:
            # What stays is judged on the record as written (the value read above may be older).
            taken = without(old, ids)
            left[:] = entries_of(taken)
            return taken

        await update_with(self._kv, key, take_out, ttl=ttl)
        self.sent += len(foreign)
        if left:
            self._oldest[key] = min(e.at for e in left)
        else:
            await self._unmark(key, marker_revision)
            self._oldest.pop(key, None)
        return len(foreign)

    def _remembered(self, key: str) -> bytes | None:
        """The record's value as the handle remembers it (a watch of the process brought it, or
        its own write), None when it remembers none. Enough to send what it carries: an entry
        taken out since is dropped by the stream as a duplicate, the removal that follows applies
        to the record as it is then (a revision-checked write), and the watch that feeds `note`
        brings any newer value after it."""
        remembered = self._kv.known(key) if isinstance(self._kv, ReadYourWritesKV) else None
        return remembered[0] if remembered is not None else None

    async def _marker_revision(self, key: str) -> int:
        try:
            return int((await self._kv.get(marker_key(key))).revision or 0)
        except KeyNotFoundError:
            return 0

    async def _unmark(self, key: str, revision: int) -> None:
        """Remove the record's marker, unless a writer marked it again since it was read."""
        if not revision:
            return
        with contextlib.suppress(KeyWrongLastSequenceError, APIError, KeyNotFoundError):
            # A purge that expires: no trace of the marker stays in the bucket for good.
            await write_expiring(
                self._kv, marker_key(key), None, last=revision, ttl=DELETE_MARKER_TTL_SECONDS
            )
        self._marked.discard(key)

    async def start(self, *, markers: bool = False) -> None:
        """Start sweeping; with `markers`, learn the records to look at from the bucket's marker
        keys (see `mark`), else from `note` (a watch the process has of the records)."""
        if markers:
            self._tasks.append(asyncio.create_task(self._follow(f"{MARKER_PREFIX}.>"), name="outbox-markers"))
        self._tasks.append(asyncio.create_task(self._sweep_forever(), name="outbox-sweep"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _sweep_forever(self) -> None:
        while True:
            # Jittered, so the processes of a region do not all sweep the same key at once.
            await asyncio.sleep(self.after_seconds * (0.5 + random.random() / 2))  # noqa: S311 - jitter
            await self.sweep()

    async def _follow(self, keys: str) -> None:
        while True:
            try:
                # Survives reconnects and server restarts by itself (resuming where it was).
                watch = await KeyWatch.start(self._kv, keys)
                try:
                    async for seen in watch:
                        if seen is None:
                            continue  # the end of what was stored before the watch began
                        deleted = seen.operation in (KV_DEL, KV_PURGE)
                        self.note_marker(seen.key, None if deleted else seen.value)
                finally:
                    with contextlib.suppress(Exception):
                        await watch.stop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox watch %s failed; starting it again", keys, exc_info=True)
            # A watch that could not start (JetStream not answering yet) is tried again.
            await asyncio.sleep(0.5)
