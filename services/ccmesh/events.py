"""Contact events on a region's JetStream stream: publish once, consume at least once.

Publishing sets `Nats-Msg-Id` to the event id, so a retried publish inside the stream's
duplicate window is stored once. Consumers are durable with explicit ack; a handler that
fails is redelivered with back-off, and after `max_deliver` attempts the message goes to
the region's dead-letter subject (with the reason in headers) instead of blocking the
consumer forever. Trace context rides in the message headers across every hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ccmesh import naming, retention_ttl, telemetry
from ccmesh.consumer_metrics import consumer_metrics
from ccmesh.creation import retry_creation
from ccmesh.envelope import event_type
from ccmesh.js_publish import publish_pipelined
from ccmesh.pull_feed import PullFeed
from ccmesh.retention import DEFAULT_POLICY, STORES, RetentionPolicy, StoreKind
from ccmesh.status import retryable
from ccmesh.stores import STREAM_DUPLICATE_WINDOW_SECONDS, ensure_stream
from ccmesh.waiting import event_or_timeout
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)

EventHandler = Callable[[events_pb2.Event], Awaitable[None]]

#: What a batch handler says of each message it was given, in the same order: None when done
#: (acked), a `PermanentError` to dead-letter it at once, any other exception to retry it exactly
#: as if a per-message handler had raised it (back-off, then the dead-letter at `max_deliver`).
Outcome = BaseException | None


class PermanentError(Exception):
    """Raised by a handler for an event that can never succeed: dead-lettered at once, no retries."""


#: Deliveries a message may take while the platform's own NATS is away (see `status.retryable`):
#: such failures say nothing about the message, so they do not dead-letter it after `max_deliver`
#: (which would lose a contact to a stream's leader election); at the last back-off of 15 s this
#: rides out about 25 minutes of outage before the message is dead-lettered after all.
MAX_DELIVER_WHILE_NATS_AWAY = 100
#: The pause before fetching again after the stream or consumer refused for want of a leader:
#: the fetch after its election should come within a moment of it, not a poll interval later.
ELECTION_REFETCH_SECONDS = 0.1
#: How long one wait for messages lasts: the loop looks at `stop` between waits (which `stop`
#: also ends at once); a wait costs no request, the feed's pulls stand on the server meanwhile.
TAKE_WAIT_SECONDS = 5.0


class TransientError(Exception):
    """Raised by a handler for an expected, passing failure (a provider down, a Retry-After):
    redelivered after the back-off like any failure, but logged as one line without a traceback,
    since the handler knows (and says) what went wrong."""


class NotYet(TransientError):
    """Raised by a handler for a message that may apply a moment later: what it acts on is still
    on its way through another consumer (a customer's command read before the hand-off that puts
    them in a queue). Redelivered after the back-off like any transient failure; after the last
    attempt it is acked as read, not dead-lettered: it never applied, and nothing is wrong."""


@dataclass(frozen=True)
class StreamSettings:
    replicas: int = 1
    #: Placement tags, e.g. ["region:eu"]: the stream lives only on that region's servers.
    placement_tags: Sequence[str] = ()
    #: Window in which a repeated Nats-Msg-Id is dropped as a duplicate.
    duplicate_window_seconds: float = STREAM_DUPLICATE_WINDOW_SECONDS


async def ensure_region_streams(
    js: JetStreamContext,
    region: str,
    settings: StreamSettings,
    policy: RetentionPolicy = DEFAULT_POLICY,
) -> None:
    """Create (or update) the region's streams with the limits of the retention `policy`."""
    for store in STORES:
        if store.kind is StoreKind.STREAM:
            await ensure_stream(
                js,
                store,
                region,
                policy.of(store),
                placement_tags=settings.placement_tags,
                replicas=settings.replicas,
                duplicate_window_seconds=settings.duplicate_window_seconds,
            )


@dataclass(frozen=True)
class Published:
    stream: str
    sequence: int
    duplicate: bool


class EventPublisher:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self.region = region
        self._stream = naming.events_stream(region).name
        self._tracer = telemetry.tracer()

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> Published:
        subject, kind = self._subject(event)
        headers = retention_ttl.publish_headers(self.region, kind, event.event_id)
        with self._span(event, subject, kind):
            telemetry.inject(headers)
            ack = await self._js.publish(subject, event.SerializeToString(), headers=headers, timeout=timeout)
        return Published(stream=ack.stream, sequence=ack.seq, duplicate=bool(ack.duplicate))

    async def send(
        self, events: Sequence[events_pb2.Event], timeout: float = 5.0
    ) -> Awaitable[list[Published]]:
        """Send `events` in their order without waiting for each acknowledgement in turn; returns
        what awaits all the acknowledgements (one round trip for the lot instead of one each).

        The stream stores them in the order given (one connection keeps its order). The caller
        must await the result before it counts the events as published; a failure raises there,
        and a retry of the whole lot is de-duplicated by the event ids.
        """
        # Every event is checked before the first is sent: a bad one stops the lot, not its tail.
        addressed = [(event, *self._subject(event)) for event in events]
        pending: list[asyncio.Future[Any]] = []
        for event, subject, kind in addressed:
            headers = retention_ttl.publish_headers(self.region, kind, event.event_id)
            with self._span(event, subject, kind):
                telemetry.inject(headers)
                pending.append(
                    publish_pipelined(
                        self._js, subject, event.SerializeToString(), headers=headers, timeout=timeout
                    )
                )
        return self._acknowledged(pending, timeout)

    async def publish_all(self, events: Sequence[events_pb2.Event], timeout: float = 5.0) -> list[Published]:
        """`send`, then wait for every acknowledgement."""
        return await (await self.send(events, timeout))

    @staticmethod
    async def _acknowledged(pending: list[asyncio.Future[Any]], timeout: float) -> list[Published]:
        published: list[Published] = []
        try:
            # All are in flight already: awaiting them in turn costs one round trip, not one each.
            async with asyncio.timeout(timeout):
                for future in pending:
                    ack = await future
                    published.append(
                        Published(stream=ack.stream, sequence=ack.seq, duplicate=bool(ack.duplicate))
                    )
        except TimeoutError:
            raise NatsTimeoutError from None
        finally:
            for future in pending:
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # a later one's failure is seen, not left unretrieved
        return published

    def _subject(self, event: events_pb2.Event) -> tuple[str, str]:
        if not event.event_id:
            raise ValueError("event_id is required: it is the de-duplication key")
        kind = event_type(event)
        return naming.event_subject(self.region, event.tenant.tenant_id, kind, event.contact_id), kind

    @contextlib.contextmanager
    def _span(self, event: events_pb2.Event, subject: str, kind: str) -> Iterator[Span]:
        # Published from no span (a routing pass, a timer): in the contact's trace, if known.
        with self._tracer.start_as_current_span(
            f"{self._stream} publish",
            context=telemetry.contact_context(event.contact_id),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": subject,
                "messaging.message.id": event.event_id,
                "contactcenter.event.type": kind,
            },
        ) as span:
            telemetry.contact_traces.remember(event.contact_id, span.get_span_context())
            yield span


@dataclass
class ConsumerSettings:
    durable: str
    #: Subject filter inside the region's event stream, e.g. `ccevt.eu.*.contact_created.*`.
    filter_subject: str
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    #: Delay before each redelivery after a failure; the last value repeats.
    backoff_seconds: Sequence[float] = field(default_factory=lambda: (0.2, 1.0, 5.0, 15.0))
    batch: int = 32
    #: Further subject filters of the same consumer (NATS 2.10 multi-filter consumers).
    more_filter_subjects: Sequence[str] = ()
    #: Seconds to let events gather after a batch that did not fill (0: fetch again at once).
    #: A fetch costs a request, a status reply and a wake-up of both ends whatever it brings,
    #: so a consumer off the contact's critical path trades this much delay for fewer of them.
    gather_seconds: float = 0.0


M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class MessageFormat(Generic[M]):
    """What a consumer's messages are: how to decode one and what to put on its span."""

    #: Used in dead-letter reasons, e.g. "undecodable event".
    label: str
    decode: Callable[[bytes], M]
    #: Span attributes of a decoded message (its id, its type).
    attributes: Callable[[M], dict[str, str]]
    #: The contact a message is about ("" for none): its trace context becomes the contact's.
    contact_of: Callable[[M], str] | None = None


EVENTS: MessageFormat[events_pb2.Event] = MessageFormat(
    label="event",
    decode=events_pb2.Event.FromString,
    attributes=lambda event: {
        "messaging.message.id": event.event_id,
        "contactcenter.event.type": event.WhichOneof("payload") or "",
    },
    contact_of=lambda event: event.contact_id,
)


BatchHandler = Callable[[Sequence[M]], Awaitable[Sequence[Outcome]]]


def concurrently(handler: Callable[[M], Awaitable[None]]) -> BatchHandler[M]:
    """A batch handler that runs `handler` on every message of the batch at once: for messages
    that do not depend on each other, the batch costs the time of its slowest message, not the
    sum. Each message's exception is its outcome."""

    async def handle(messages: Sequence[M]) -> Sequence[Outcome]:
        return await asyncio.gather(*(handler(m) for m in messages), return_exceptions=True)

    return handle


class DurableConsumer(Generic[M]):
    """Pulls from a durable consumer and hands each message to `handler`, in stream order; or,
    with `batch_handler`, each fetched batch at once (up to `settings.batch` messages).

    A batch handler returns one `Outcome` per message; done messages are acked, the others are
    retried or dead-lettered one by one, as a per-message handler's failures are. A batch handler
    that raises fails its whole batch that way. Messages that cannot be decoded are
    dead-lettered before the batch reaches the handler.

    By default it reads contact events from `events-<region>`; other streams of protobuf
    records (e.g. inbound actions) pass their `stream` and `message_format`.
    """

    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        settings: ConsumerSettings,
        handler: Callable[[M], Awaitable[None]] | None = None,
        *,
        batch_handler: BatchHandler[M] | None = None,
        stream: str | None = None,
        message_format: MessageFormat[M] = EVENTS,  # type: ignore[assignment]
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError(f"consumer {settings.durable!r} needs either a handler or a batch_handler")
        self._js = js
        self.region = region
        self.settings = settings
        self._handler = handler
        self._batch_handler = batch_handler
        self._format = message_format
        self._stream = stream or naming.events_stream(region).name
        self._task: asyncio.Task[None] | None = None
        self._feed: PullFeed | None = None
        self._stopping = asyncio.Event()
        self._tracer = telemetry.tracer()
        self.dead_lettered = 0

    async def start(self) -> None:
        s = self.settings
        filters = [s.filter_subject, *s.more_filter_subjects]
        config = ConsumerConfig(
            name=s.durable,
            durable_name=s.durable,
            filter_subject=s.filter_subject if len(filters) == 1 else None,
            filter_subjects=filters if len(filters) > 1 else None,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            # The server's bound is the outage one; `_settle` applies `max_deliver` itself.
            max_deliver=max(s.max_deliver, MAX_DELIVER_WHILE_NATS_AWAY),
            ack_wait=s.ack_wait_seconds,
        )
        # Create or update (the server's default action): a consumer made by an older release
        # takes this release's filters and limits, which `pull_subscribe` would leave as they were.
        # On a cluster still starting, the stream may be electing its leader: retried, idempotent.
        await retry_creation(
            f"consumer {s.durable!r}", lambda: self._js.add_consumer(self._stream, config=config)
        )
        self._feed = PullFeed.of(self._js, self._stream, s.durable, batch=s.batch)
        await self._feed.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{s.durable}")
        consumer_metrics().track(self._js, self._stream, s.durable)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Finish the event in hand, then stop fetching. Unacked events are redelivered later."""
        self._stopping.set()
        consumer_metrics().untrack(self._stream, self.settings.durable)
        if self._feed is not None:
            # No more pulls; what was pulled and not yet taken goes back for another instance
            # now. A subscription left open would make the connection's drain wait its timeout.
            await self._feed.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=grace_seconds)
            except TimeoutError:
                self._task.cancel()

    async def _run(self) -> None:
        failed = 0
        while not self._stopping.is_set():
            assert self._feed is not None
            try:
                messages = await self._feed.take(self.settings.batch, wait=TAKE_WAIT_SECONDS)
            except Exception as error:
                if self._stopping.is_set():
                    return
                failed += 1
                if retryable(error):
                    # The stream or consumer electing its leader: expected, said in one line
                    # (once per outage). The server refuses at once while there is no leader, so
                    # asking again soon is cheap, and the first fetch after the election is not
                    # held back by a long pause.
                    if failed == 1:
                        log.warning("fetch failed on %s: %r; retrying", self.settings.durable, error)
                    await asyncio.sleep(ELECTION_REFETCH_SECONDS)
                else:
                    log.warning("fetch failed on %s; retrying", self.settings.durable, exc_info=True)
                    await asyncio.sleep(0.5)
                continue
            if failed:
                log.info("fetch on %s works again after %d failures", self.settings.durable, failed)
                failed = 0
            if not messages:
                continue  # nothing new for a while, or stopping
            if self._batch_handler is not None:
                await self._process_batch(self._batch_handler, messages)
            elif self._handler is not None:
                for message in messages:
                    await self._process(self._handler, message)
            if self.settings.gather_seconds > 0 and len(messages) < self.settings.batch:
                await event_or_timeout(self._stopping, self.settings.gather_seconds)

    async def _process(self, handler: Callable[[M], Awaitable[None]], message: Msg) -> None:
        delivered = message.metadata.num_delivered
        token = otel_context.attach(telemetry.extract(message.headers))
        try:
            with self._tracer.start_as_current_span(
                f"{self._stream} process",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": message.subject,
                    "messaging.consumer.group.name": self.settings.durable,
                    "messaging.message.delivery_count": delivered,
                },
            ) as span:
                try:
                    decoded = self._format.decode(message.data)
                except DecodeError as error:
                    # A message that cannot be decoded will never succeed: dead-letter it now.
                    await self._dead_letter(message, f"undecodable {self._format.label}: {error}")
                    return
                span.set_attributes(self._format.attributes(decoded))
                if self._format.contact_of is not None:
                    telemetry.contact_traces.remember(
                        self._format.contact_of(decoded), span.get_span_context()
                    )
                try:
                    await handler(decoded)
                except Exception as error:
                    await self._settle(message, error, span)
                    return
                await message.ack()
        finally:
            otel_context.detach(token)

    async def _process_batch(self, handler: BatchHandler[M], messages: Sequence[Msg]) -> None:
        batch: list[tuple[Msg, M]] = []
        for message in messages:
            try:
                batch.append((message, self._format.decode(message.data)))
            except DecodeError as error:
                await self._dead_letter(message, f"undecodable {self._format.label}: {error}")
        if not batch:
            return
        # One span for the batch, linked to each message's producer (messaging conventions);
        # a batch of one trace (often one message) stays in that trace, as its child.
        links = []
        senders = []
        for message, decoded in batch:
            sent = telemetry.trace_context_of(message.headers)
            if sent.is_valid:
                links.append(Link(sent))
                senders.append(sent)
            if self._format.contact_of is not None:
                telemetry.contact_traces.remember(self._format.contact_of(decoded), sent)
        one_trace = len(senders) == len(batch) and len({sent.trace_id for sent in senders}) == 1
        with self._tracer.start_as_current_span(
            f"{self._stream} process",
            context=trace.set_span_in_context(trace.NonRecordingSpan(senders[0])) if one_trace else None,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": batch[0][0].subject,
                "messaging.consumer.group.name": self.settings.durable,
                "messaging.batch.message_count": len(batch),
            },
        ) as span:
            outcomes: Sequence[Outcome]
            try:
                outcomes = await handler([decoded for _, decoded in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError(
                        f"batch handler of {self.settings.durable!r} gave {len(outcomes)} outcomes "
                        f"for {len(batch)} messages"
                    )
            except Exception as error:
                outcomes = [error] * len(batch)
            for (message, _), outcome in zip(batch, outcomes, strict=True):
                if outcome is None:
                    # Acks are publishes without a reply: queued on the connection, not awaited.
                    await message.ack()
                else:
                    await self._settle(message, outcome, span)

    async def _settle(self, message: Msg, error: BaseException, span: Span) -> None:
        """A message whose handling failed: dead-lettered now (permanent failure or last attempt)
        or redelivered after the back-off."""
        delivered = message.metadata.num_delivered
        if isinstance(error, PermanentError):
            span.set_status(Status(StatusCode.ERROR, str(error)))
            await self._dead_letter(message, f"permanent failure: {error}")
            return
        span.set_status(Status(StatusCode.ERROR, repr(error)))
        limit = MAX_DELIVER_WHILE_NATS_AWAY if retryable(error) else self.settings.max_deliver
        if delivered >= limit and isinstance(error, NotYet):
            log.info("%s on %s never applied: %s", self._format.label, self.settings.durable, error)
            await message.ack()
        elif delivered >= limit:
            await self._dead_letter(message, f"handler failed {delivered} times: {error!r}")
        elif isinstance(error, TransientError):
            log.debug("%s on %s: %s; retrying", self._format.label, self.settings.durable, error)
            await message.nak(delay=self._backoff(delivered))
        else:
            log.warning(
                "%s on %s failed (attempt %d); retrying",
                self._format.label,
                self.settings.durable,
                delivered,
                exc_info=error,
            )
            await message.nak(delay=self._backoff(delivered))

    def _backoff(self, delivered: int) -> float:
        delays = self.settings.backoff_seconds
        return delays[min(delivered, len(delays)) - 1] if delays else 0.0

    async def _dead_letter(self, message: Msg, reason: str) -> None:
        headers = {
            "Cc-Original-Subject": message.subject,
            "Cc-Original-Sequence": str(message.metadata.sequence.stream),
            "Cc-Consumer": self.settings.durable,
            "Cc-Reason": " ".join(reason.split())[:500],
        }
        telemetry.inject(headers)
        await self._js.publish(
            naming.dead_letter_subject(self.region, self.settings.durable), message.data, headers=headers
        )
        await message.term()
        self.dead_lettered += 1
        consumer_metrics().dead_lettered(self._stream, self.settings.durable)
        log.error("dead-lettered %s from %s: %s", message.subject, self.settings.durable, reason)
