"""A contact's events, read back from the region's event stream.

The stream is the record of what happened (what was acked is there, for as long as the region's
retention keeps it), so a contact's history is read from it rather than copied into a bucket.

Reads use JetStream's direct get (the events stream allows it, see `ccmesh.stores`), not a
consumer: one request names the contact's subjects and the server answers with the matching
messages in stream order, then an end-of-batch marker. A whole history costs one request, its
events and one marker; one known event kind (`first_event_of_kind`) a request and its answer. A
consumer would add its creation, a fetch and its deletion, each a round trip that also passes
through the stream's leader and, in a cluster, its consensus log.

On a replicated stream a direct get may be answered by any replica that is caught up with the
leader, so a read can miss an event stored a moment earlier; readers that follow a write they
did not make (a hand-over) already read again when something expected is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming, telemetry
from ccmesh.envelope import EVENT_KINDS
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

#: A contact with more events than this shows its first ones (a conversation, not an archive).
MAX_HISTORY_EVENTS = 2000
#: Messages asked for per request: a longer history is read in a few requests.
BATCH = 256
#: How long one answer of the server may take before the read fails.
READ_TIMEOUT_SECONDS = 5.0

#: A subject token that cannot widen the read: no separator, wildcard or white space.
_TOKEN = re.compile(r"^[^.*>\s]+$")


class HistoryReadError(RuntimeError):
    """The stream did not answer a history read (it is missing, refuses direct reads, or is slow)."""


def _token(value: str, field: str) -> str:
    # A '*' or '>' here would read other contacts' (or tenants') events.
    if not _TOKEN.match(value):
        raise ValueError(
            f"{field} {value!r} is not a valid subject token (empty, or holds '.', '*', '>' or spaces)"
        )
    return value


def _connection(js: JetStreamContext) -> tuple[Client, str]:
    # nats-py's JetStreamContext has no public accessor for its connection and API prefix (a
    # JetStream domain changes the prefix), and no call for a batched direct get.
    return js._nc, js._prefix


def _no_direct_reads(stream: str) -> HistoryReadError:
    return HistoryReadError(
        f"stream {stream!r} does not answer direct reads (missing, or created without allow_direct)"
    )


async def _answer(answers: asyncio.Queue[Msg], stream: str, subject: str) -> Msg:
    try:
        return await asyncio.wait_for(answers.get(), READ_TIMEOUT_SECONDS)
    except TimeoutError as err:
        raise HistoryReadError(
            f"stream {stream!r} did not answer a read of {subject} within {READ_TIMEOUT_SECONDS}s"
        ) from err


class _ReplyInboxes:
    """One wildcard subscription per connection for the answers of every batched read, each read
    under its own token (as nats.py multiplexes requests). A subscription of its own per read
    cost a subscribe and an unsubscribe, each a write and a change of the server's interest."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        #: Tokens need only be unique under this connection's own inbox prefix.
        self._tokens = itertools.count(1)
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def inbox(self) -> AsyncIterator[tuple[str, asyncio.Queue[Msg]]]:
        if self._subscription is None:
            async with self._subscribing:  # concurrent first reads subscribe once
                if self._subscription is None:
                    self._subscription = await self._nc.subscribe(f"{self._prefix}.*", cb=self._deliver)
        token = str(next(self._tokens))
        answers: asyncio.Queue[Msg] = asyncio.Queue()
        self._waiting[token] = answers
        try:
            yield f"{self._prefix}.{token}", answers
        finally:
            del self._waiting[token]

    async def _deliver(self, message: Msg) -> None:
        answers = self._waiting.get(message.subject.rpartition(".")[2])
        if answers is not None:  # else the answer of a read that gave up
            answers.put_nowait(message)


_inboxes: weakref.WeakKeyDictionary[Client, _ReplyInboxes] = weakref.WeakKeyDictionary()


def _reply_inboxes(nc: Client) -> _ReplyInboxes:
    inboxes = _inboxes.get(nc)
    if inboxes is None:
        inboxes = _inboxes[nc] = _ReplyInboxes(nc)
    return inboxes


async def _direct_batches(
    js: JetStreamContext, stream: str, subject: str, limit: int, start: int
) -> list[Msg]:
    """The first `limit` messages of `stream` on `subject` (wildcards allowed) from sequence
    `start` on, in stream order."""
    nc, prefix = _connection(js)
    found: list[Msg] = []
    async with _reply_inboxes(nc).inbox() as (reply_to, answers):
        while len(found) < limit:
            request = {"seq": start, "next_by_subj": subject, "batch": min(BATCH, limit - len(found))}
            await nc.publish(f"{prefix}.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=reply_to)
            while True:
                message = await _answer(answers, stream, subject)
                headers = message.headers or {}
                status = headers.get("Status")
                if status is None:
                    found.append(message)
                    continue
                if status == "404":  # nothing (more) on the subject at or after `start`
                    return found
                if status == "503":
                    raise _no_direct_reads(stream)
                if status != "204":  # 204: the end of this batch
                    description = headers.get("Description", "")
                    raise HistoryReadError(
                        f"stream {stream!r} refused a read of {subject}: {status} {description}"
                    )
                break
            if int(headers.get("Nats-Num-Pending", "0")) == 0:
                return found
            start = int(headers["Nats-Last-Sequence"]) + 1
    return found


async def read_subject(
    js: JetStreamContext, stream: str, subject: str, *, start: int, limit: int
) -> list[Msg]:
    """The first `limit` messages of `stream` on `subject` (wildcards allowed) from sequence
    `start` on, in stream order, by batched direct gets (each carries its `Nats-Sequence` header).
    Raises `HistoryReadError` when the stream does not answer."""
    return await _direct_batches(js, stream, subject, limit, start)


def _decode(message: Msg) -> events_pb2.Event | None:
    event = events_pb2.Event()
    try:
        event.ParseFromString(message.data)
    except DecodeError:
        # A foreign message on our subject must not break a contact's history.
        log.warning("skipping an undecodable event on %s", (message.headers or {}).get("Nats-Subject"))
        return None
    return event


@dataclass(frozen=True)
class HistoryPage:
    """What one read found: the events in stream order (undecodable messages skipped, repeats
    kept), how many messages it read, and the sequence a later read of the contact starts at."""

    events: list[events_pb2.Event]
    read: int
    next_sequence: int


async def read_contact_events(
    js: JetStreamContext,
    region: str,
    tenant_id: str,
    contact_id: str,
    *,
    start: int = 1,
    limit: int = MAX_HISTORY_EVENTS,
) -> HistoryPage:
    """At most `limit` messages of the contact stored at sequence `start` or later."""
    subject = naming.event_subject(
        region, _token(tenant_id, "tenant_id"), "*", _token(contact_id, "contact_id")
    )
    messages = await _direct_batches(js, naming.events_stream(region).name, subject, limit, start)
    events = [event for event in map(_decode, messages) if event is not None]
    after = int((messages[-1].headers or {})["Nats-Sequence"]) + 1 if messages else start
    return HistoryPage(events, len(messages), after)


def once_each(events: Iterable[events_pb2.Event], seen: set[str]) -> list[events_pb2.Event]:
    """`events` without those whose id is in `seen` (which learns the rest): the same event
    published again after the stream's duplicate window is one event."""
    kept: list[events_pb2.Event] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            kept.append(event)
    return kept


async def contact_history(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str, *, limit: int = MAX_HISTORY_EVENTS
) -> list[events_pb2.Event]:
    """Every event of the contact still on the stream, oldest first, each event id once."""
    page = await read_contact_events(js, region, tenant_id, contact_id, limit=limit)
    return once_each(page.events, set())


async def first_event_of_kind(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str, kind: str
) -> events_pb2.Event | None:
    """The contact's first event of `kind` (e.g. `contact_created`) still on the stream, or None.

    One direct get on the literal subject: a request and its answer, whatever the history's length.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(sorted(EVENT_KINDS))}")
    stream = naming.events_stream(region).name
    subject = naming.event_subject(
        region, _token(tenant_id, "tenant_id"), kind, _token(contact_id, "contact_id")
    )
    try:
        found = await js.get_msg(stream, seq=1, subject=subject, next=True, direct=True)
    except NotFoundError:
        return None
    except NoRespondersError as err:
        raise _no_direct_reads(stream) from err
    except NatsTimeoutError as err:
        raise HistoryReadError(f"stream {stream!r} did not answer a read of {subject}") from err
    event = events_pb2.Event()
    try:
        event.ParseFromString(found.data or b"")
    except DecodeError:
        log.warning("skipping an undecodable event on %s", subject)
        return None
    return event


@dataclass(frozen=True)
class TracedEvent:
    """An event of a contact's history and the trace it was published in ("" for none)."""

    event: events_pb2.Event
    trace_id: str
    sampled: bool


async def traced_contact_history(
    js: JetStreamContext, region: str, tenant_id: str, contact_id: str, *, limit: int = MAX_HISTORY_EVENTS
) -> list[TracedEvent]:
    """`contact_history` with the trace context each event carried in its headers (kept with the
    stored message), oldest first, each event id once."""
    subject = naming.event_subject(
        region, _token(tenant_id, "tenant_id"), "*", _token(contact_id, "contact_id")
    )
    messages = await _direct_batches(js, naming.events_stream(region).name, subject, limit, 1)
    seen: set[str] = set()
    traced: list[TracedEvent] = []
    for message in messages:
        event = _decode(message)
        if event is None or event.event_id in seen:
            continue
        seen.add(event.event_id)
        context = telemetry.trace_context_of(message.headers)
        traced.append(TracedEvent(event, telemetry.trace_id_hex(context), bool(context.trace_flags.sampled)))
    return traced
