"""Watches of a KV bucket's keys that survive reconnects, server restarts and lost consumers.

nats-py's `KeyValue.watch` notices a consumer that stopped delivering only after two missed
idle heartbeats (10 s), and when re-creating it fails (JetStream still recovering after a
restart) it tries again only after the next two. `KeyWatch` runs its own ordered consumer:
it notices the client's reconnect at once (and a consumer gone quiet within a few heartbeats)
and re-creates the consumer from the revision after the last one it delivered, retrying
every few tenths of a second until JetStream answers. Resuming from a revision loses nothing:
a KV message is only removed once a later revision of its key (or a marker) exists, and that
one comes after the resume point.

    watch = await KeyWatch.start(kv, "agent.*.*")
    async for entry in watch:        # an `Entry`, or None once: everything stored is delivered
        ...
    await watch.stop()

    entries = await current_entries(kv, "dlq.t1.*")   # a one-shot listing, same guarantees
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

log = logging.getLogger(__name__)

#: The server sends an idle heartbeat this often when it has nothing to deliver.
HEARTBEAT_SECONDS = 1.0
#: A consumer silent this long (no value, no heartbeat) is taken as lost and re-created.
SILENT_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
#: How often the guard looks for a reconnect of the client or a silent consumer.
GUARD_INTERVAL_SECONDS = 0.05
#: Pause between attempts to re-create the consumer while JetStream does not answer.
RETRY_SECONDS = 0.1
#: Deadline of the first consumer creation (a busy server at start-up may take a while).
CREATE_TIMEOUT_SECONDS = 5.0
#: Deadline of a re-creation, so an attempt on a half-started server is cut short and repeated.
RECREATE_TIMEOUT_SECONDS = 2.0
#: The server removes a consumer nobody listens to after this long (one replaced or stopped):
#: short, since a watch that lost its consumer makes a new one anyway.
INACTIVE_THRESHOLD_SECONDS = 5.0
#: Header of an idle heartbeat: the consumer sequence the server delivered last.
_LAST_CONSUMER = "Nats-Last-Consumer"
#: Header of an idle heartbeat of a stalled consumer: where to send the flow-control reply.
_CONSUMER_STALLED = "Nats-Consumer-Stalled"
#: Header of a message the server placed itself when a key expired (nats-server 2.11+).
_MARKER_REASON = "Nats-Marker-Reason"


class _End:
    """Put on the queue when the watch stops: iteration ends."""


_END = _End()


class KeyWatch:
    """The keys of `kv` matching `pattern`: every stored value, then every change, in order."""

    def __init__(self, kv: KeyValue, pattern: str, *, ignore_deletes: bool = False, meta_only: bool = False):
        # The bucket's stream, subject prefix and JetStream context: nats-py keeps them private
        # but they are what a watch is made of (its own `KeyValue.watch` uses the same).
        self._kv = kv
        js: Any = kv._js
        self._jsm: Any = js._jsm
        self._nc: Client = js._nc
        self._stream: str = kv._stream
        self._prefix: str = kv._pre
        self._bucket: str = kv._name
        self._pattern = pattern
        self._ignore_deletes = ignore_deletes
        self._meta_only = meta_only
        self._queue: asyncio.Queue[KeyValue.Entry | _End | None] = asyncio.Queue()
        #: Stream sequence (KV revision) of the last message handled: a new consumer starts after it.
        self.revision = 0
        #: Replacements of the consumer begun since the start (a reconnect, a silent or
        #: out-of-order consumer); each ends once a new consumer is in place.
        self.restarts = 0
        self._loaded = False
        self._generation = 0
        self._next_delivery = 1
        self._subscription: Subscription | None = None
        self._last_activity = time.monotonic()
        self._reconnects = self._reconnect_count()
        self._restart_wanted = False
        self._guard: asyncio.Task[None] | None = None
        self._stopped = False

    @classmethod
    async def start(
        cls, kv: KeyValue, pattern: str, *, ignore_deletes: bool = False, meta_only: bool = False
    ) -> KeyWatch:
        """Watch `pattern`; raises when the first consumer cannot be created (no such bucket,
        no server): later losses are repaired without the caller noticing."""
        watch = cls(kv, pattern, ignore_deletes=ignore_deletes, meta_only=meta_only)
        await watch._open(CREATE_TIMEOUT_SECONDS)
        watch._guard = asyncio.create_task(watch._keep_alive(), name=f"kv-watch-{watch._bucket}")
        return watch

    def __aiter__(self) -> KeyWatch:
        return self

    async def __anext__(self) -> KeyValue.Entry | None:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later calls end too
            raise StopAsyncIteration
        return item

    async def updates(self, timeout: float | None = None) -> KeyValue.Entry | None:
        """The next entry (None: the stored values are all delivered); TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    async def stop(self) -> None:
        self._stopped = True
        if self._guard is not None:
            self._guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._guard
        await self._close_subscription()
        self._queue.put_nowait(_END)

    # The consumer -------------------------------------------------------------------------

    async def _open(self, timeout: float) -> None:
        """Create a consumer delivering from the revision after the last handled one."""
        self._generation += 1
        generation = self._generation
        self._next_delivery = 1
        inbox = self._nc.new_inbox()

        async def deliver(msg: Msg) -> None:
            if generation == self._generation:
                await self._on_message(msg)

        # Listen before the consumer exists, so nothing it pushes at once is missed.
        subscription = await self._nc.subscribe(inbox, cb=deliver)
        config = api.ConsumerConfig(
            deliver_subject=inbox,
            filter_subject=f"{self._prefix}{self._pattern}",
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=HEARTBEAT_SECONDS,
            headers_only=self._meta_only or None,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=INACTIVE_THRESHOLD_SECONDS,
        )
        if self.revision:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self.revision + 1
        else:
            config.deliver_policy = api.DeliverPolicy.LAST_PER_SUBJECT
        try:
            info = await self._jsm.add_consumer(self._stream, config=config, timeout=timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
            raise
        self._subscription = subscription
        self._last_activity = time.monotonic()
        if not self._loaded and not info.num_pending:
            self._mark_loaded()  # nothing stored matches: the (empty) initial load is complete

    async def _close_subscription(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            # Its consumer is left to the server's inactivity threshold: deleting it would
            # cost a request on the recovery path, often to a server that lost it anyway.
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _reopen(self) -> None:
        """Replace the consumer, retrying until JetStream answers or the watch stops."""
        self._restart_wanted = False
        self.restarts += 1
        self._generation += 1  # messages still arriving for the old consumer are dropped
        await self._close_subscription()
        while not self._stopped:
            if self._nc.is_closed:
                self._queue.put_nowait(_END)
                return
            if self._nc.is_connected:
                try:
                    await self._open(RECREATE_TIMEOUT_SECONDS)
                except Exception as error:  # any failure here means: try again shortly
                    log.debug("re-creating the watch of %s %s: %s", self._bucket, self._pattern, error)
                else:
                    log.info(
                        "watch of %s %s resumed after revision %s", self._bucket, self._pattern, self.revision
                    )
                    return
            await asyncio.sleep(RETRY_SECONDS)

    async def _keep_alive(self) -> None:
        while not self._stopped:
            await asyncio.sleep(GUARD_INTERVAL_SECONDS)
            if self._nc.is_closed:
                self._queue.put_nowait(_END)
                return
            reconnects = self._reconnect_count()
            silent = time.monotonic() - self._last_activity > SILENT_AFTER_SECONDS
            if reconnects != self._reconnects or self._restart_wanted or (silent and self._nc.is_connected):
                self._reconnects = reconnects
                await self._reopen()

    def _reconnect_count(self) -> int:
        return int(self._nc.stats.get("reconnects", 0))

    # Messages -----------------------------------------------------------------------------

    async def _on_message(self, msg: Msg) -> None:
        self._last_activity = time.monotonic()
        headers = msg.headers or {}
        if not msg.data and headers.get("Status") == "100":
            await self._on_control(msg, headers)
            return
        if not msg.reply:
            return
        metadata = msg.metadata
        if metadata.sequence.consumer != self._next_delivery:
            self._restart_wanted = True  # a gap: start a new consumer after the last revision
            return
        self._next_delivery += 1
        if metadata.sequence.stream <= self.revision:
            return  # already delivered by a previous consumer
        self.revision = metadata.sequence.stream
        entry = self._entry(msg, headers, metadata)
        if entry is not None:
            self._queue.put_nowait(entry)
        if metadata.num_pending == 0 and not self._loaded:
            self._mark_loaded()

    async def _on_control(self, msg: Msg, headers: dict[str, str]) -> None:
        if msg.reply:  # a flow-control request: we queue everything at once, so answer now
            await self._nc.publish(msg.reply)
            return
        stalled = headers.get(_CONSUMER_STALLED)
        if stalled:
            await self._nc.publish(stalled)
        last = headers.get(_LAST_CONSUMER)
        if last is not None and int(last) != self._next_delivery - 1:
            self._restart_wanted = True  # the server delivered messages we never received

    def _entry(self, msg: Msg, headers: dict[str, str], metadata: Msg.Metadata) -> KeyValue.Entry | None:
        operation = headers.get(KV_OP)
        if operation is None and _MARKER_REASON in headers:
            reason = headers[_MARKER_REASON]
            if reason in ("MaxAge", "Purge"):
                operation = KV_PURGE
            elif reason == "Remove":
                operation = KV_DEL
            else:
                return None  # a marker of a kind this version does not know
        if self._ignore_deletes and operation in (KV_DEL, KV_PURGE):
            return None
        return KeyValue.Entry(
            bucket=self._bucket,
            key=msg.subject[len(self._prefix) :],
            value=msg.data,
            revision=metadata.sequence.stream,
            delta=metadata.num_pending,
            created=None,
            operation=operation,
        )

    def _mark_loaded(self) -> None:
        self._loaded = True
        self._queue.put_nowait(None)


async def current_entries(
    kv: KeyValue,
    pattern: str,
    *,
    ignore_deletes: bool = True,
    meta_only: bool = False,
    timeout: float | None = None,
) -> list[KeyValue.Entry]:
    """The entries of the keys matching `pattern` as stored now (by revision). A connection lost
    midway is waited for (bounded by `timeout`, else by the caller's own deadline)."""
    watch = await KeyWatch.start(kv, pattern, ignore_deletes=ignore_deletes, meta_only=meta_only)
    entries: list[KeyValue.Entry] = []
    try:
        async with asyncio.timeout(timeout):
            async for entry in watch:
                if entry is None:
                    break
                entries.append(entry)
    finally:
        await watch.stop()
    return entries
