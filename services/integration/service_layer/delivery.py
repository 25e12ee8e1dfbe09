"""Deliver one subscription's events to its endpoint: at least once, in order per contact, isolated.

Each subscription has its own worker, JetStream consumer, HTTP session and circuit breaker,
so a slow or dead endpoint holds up only its own events. Inside a worker, a fetched batch is
split by contact into lanes: contacts are delivered concurrently, each contact's events one after
the other, fetching goes on while earlier events retry (up to `max_in_flight` unsettled), and a
message is acknowledged only after its outcome is settled (delivered, filtered,
withheld by residency, or dead-lettered). The webhook-id is the event id, stable across
retries, redeliveries and replays, so receivers de-duplicate on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from ccmesh.configplane.models import Tenant
from contactcenter.events.v1 import events_pb2
from integration.adapters.dead_letters import DeadLetterStore
from integration.adapters.event_feed import EventFeed, contact_of
from integration.adapters.webhook_sender import SendResult
from integration.domain import payloads
from integration.domain.breaker import BreakerState, CircuitBreaker
from integration.domain.residency import may_receive_personal_data
from integration.domain.retry import BackoffPolicy
from integration.domain.subscriptions import CompiledFilter
from integration.service_layer.metrics import DeliveryMetrics
from integration.service_layer.transports import ConnectorTarget, Transport, WebhookTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    #: Events fetched at a time.
    batch: int = 256
    #: Events taken but not yet settled, across the subscription's contacts (its JetStream
    #: consumer's max_ack_pending): a contact stuck on retries holds up only its own events
    #: until this many are waiting behind it.
    max_in_flight: int = 1024
    #: Failed attempts (while the endpoint's breaker is closed) before an event is dead-lettered.
    max_attempts: int = 12
    #: Seconds after the first attempt after which an event is dead-lettered whatever the breaker says.
    retry_budget_seconds: float = 24 * 3600
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 1.0
    breaker_max_cooldown_seconds: float = 30.0
    ack_wait_seconds: float = 30.0
    request_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Endpoint:
    """Everything a worker needs about one subscription, as validated."""

    #: Subscription or connector name; also the key of its lease, dead letters and metrics.
    name: str
    #: Name of its JetStream consumer.
    durable: str
    tenant: Tenant
    #: Region of the events (this service's region).
    region: str
    endpoint_region: str
    target: WebhookTarget | ConnectorTarget
    event_types: frozenset[str]
    filter: CompiledFilter
    created: datetime | None

    def filter_subjects(self, prefix: str) -> list[str]:
        tenant = self.tenant.id
        if not self.event_types:
            return [f"{prefix}.{self.region}.{tenant}.>"]
        return [f"{prefix}.{self.region}.{tenant}.{kind}.*" for kind in sorted(self.event_types)]


class EndpointWorker:
    def __init__(
        self,
        endpoint: Endpoint,
        feed: EventFeed,
        transport: Transport,
        dead_letters: DeadLetterStore,
        settings: DeliverySettings,
        metrics: DeliveryMetrics,
    ) -> None:
        self.endpoint = endpoint
        self._feed = feed
        self._transport = transport
        self._dead_letters = dead_letters
        self._settings = settings
        self._metrics = metrics
        self.breaker = CircuitBreaker(
            failure_threshold=settings.breaker_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
            max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
        )
        self._task: asyncio.Task[None] | None = None
        #: Messages taken from the feed and not yet acknowledged, by id().
        self._pending: dict[int, Msg] = {}
        #: Per contact, its messages in stream order; a lane task drains each non-empty one.
        self._lanes: dict[str, deque[Msg]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._failure: BaseException | None = None

    async def start(self) -> None:
        await self._feed.open()
        self._task = asyncio.create_task(self._run(), name=f"deliver-{self.endpoint.name}")

    async def stop(self, *, delete_consumer: bool = False) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_lanes()
        if delete_consumer:
            await self._feed.delete()
        else:
            await self._feed.close()
        await self._transport.close()
        self._metrics.breaker_states.pop(self.endpoint.name, None)

    async def _run(self) -> None:
        keep_alive = asyncio.create_task(self._keep_alive())
        try:
            while True:
                await self._take_more()
        finally:
            keep_alive.cancel()

    async def _take_more(self) -> None:
        """Fetch while there is room; hand each message to its contact's lane."""
        if self._failure is not None:
            # E.g. an ack lost with the connection: start again from the ack floor, so no later
            # event of a contact overtakes an unacknowledged earlier one.
            log.warning("delivery failed for %s; reopening: %r", self.endpoint.name, self._failure)
            await self._drop_lanes()
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                await self._feed.open()
            return
        room = self._settings.max_in_flight - len(self._pending)
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return
        try:
            messages = await self._feed.fetch(min(self._settings.batch, room))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("fetch failed for subscription %s; retrying", self.endpoint.name, exc_info=True)
            await asyncio.sleep(0.5)
            return
        for message in messages:
            self._pending[id(message)] = message
            contact = contact_of(message)
            lane = self._lanes.get(contact)
            if lane is not None:
                lane.append(message)
                continue
            self._lanes[contact] = deque([message])
            task = asyncio.create_task(self._drain(contact))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)

    async def _drain(self, contact: str) -> None:
        """Deliver one contact's messages one after the other; the lane ends when it is empty."""
        lane = self._lanes[contact]
        try:
            while lane:
                message = lane[0]
                await self._settle(message)
                await message.ack()
                lane.popleft()
                self._pending.pop(id(message), None)
                self._room.set()
            # No await between the emptiness check and this: nothing can be appended in between.
            del self._lanes[contact]
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failure = error
            self._room.set()  # wake the fetch loop, which reopens the feed

    async def _drop_lanes(self) -> None:
        tasks = list(self._lane_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()
        self._pending.clear()
        self._failure = None

    async def _keep_alive(self) -> None:
        """Tell JetStream that messages waiting behind a retry are in progress, not lost."""
        while True:
            await asyncio.sleep(self._settings.ack_wait_seconds / 3)
            for message in list(self._pending.values()):
                with contextlib.suppress(Exception):
                    await message.in_progress()

    async def _settle(self, message: Msg) -> None:
        try:
            event = events_pb2.Event.FromString(message.data)
            kind = payloads.event_type(event)
        except (DecodeError, ValueError) as error:
            log.error(
                "subscription %s: skipping undecodable message %s: %s",
                self.endpoint.name,
                message.subject,
                error,
            )
            self._count("undecodable")
            return
        body = payloads.body_of(event)
        endpoint = self.endpoint
        if (endpoint.event_types and kind not in endpoint.event_types) or not endpoint.filter.matches(body):
            self._count("filtered")
            return
        if payloads.carries_personal_data(kind) and not may_receive_personal_data(
            endpoint.tenant, event.region or endpoint.region, endpoint.endpoint_region
        ):
            self._count("withheld")
            return
        await self.deliver(event, body)

    async def deliver(self, event: events_pb2.Event, body: dict[str, Any]) -> None:
        """Retry until delivered or the budget is spent (then dead-letter)."""
        settings = self._settings
        attempts = 0
        started = time.monotonic()
        while True:
            wait = self.breaker.wait_seconds(time.monotonic())
            self._metrics.breaker_states[self.endpoint.name] = int(self.breaker.state)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            counted = self.breaker.state is BreakerState.CLOSED
            result = await self._transport.send(event, body)
            if result.delivered:
                self.breaker.record_success()
                self._count("delivered")
                if event.HasField("occurred_at"):
                    latency = time.time() - event.occurred_at.ToNanoseconds() / 1e9
                    self._metrics.latency.record(max(latency, 0.0), {"subscription": self.endpoint.name})
                return
            self.breaker.record_failure(time.monotonic())
            # Failures while the breaker probes are the endpoint's, not this event's: not counted.
            attempts += 1 if counted else 0
            spent = time.monotonic() - started
            if (
                result.permanent
                or attempts >= settings.max_attempts
                or spent >= settings.retry_budget_seconds
            ):
                await self._dead_letter(event, max(attempts, 1), result)
                return
            self._metrics.retries.add(1, {"subscription": self.endpoint.name})
            await asyncio.sleep(settings.backoff.delay(max(attempts, 1), result.retry_after))

    async def _dead_letter(self, event: events_pb2.Event, attempts: int, result: SendResult) -> None:
        await self._dead_letters.put(
            self.endpoint.tenant.id, self.endpoint.name, event, attempts, result.reason
        )
        self._metrics.dead_letter_depth.add(1, {"subscription": self.endpoint.name})
        self._count("dead_lettered")
        log.warning(
            "subscription %s: event %s dead-lettered after %d attempt(s): %s",
            self.endpoint.name,
            event.event_id,
            attempts,
            result.reason,
        )

    def _count(self, outcome: str) -> None:
        self._metrics.deliveries.add(1, {"subscription": self.endpoint.name, "outcome": outcome})
