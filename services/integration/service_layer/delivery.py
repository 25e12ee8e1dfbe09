"""Deliver one subscription's events to its endpoint: at least once, in order per contact, isolated.

Each subscription has its own worker, JetStream consumer, HTTP session and circuit breaker,
so a slow or dead endpoint holds up only its own events. The worker settles one event at a
time (delivered, filtered, withheld by residency, or dead-lettered); the event pump it is given
(`adapters.contact_lanes`) feeds it in order per contact, several contacts at once, and
acknowledges each event once it is settled, so the worker sees plain values, never a NATS
message. The webhook-id is the event id, stable across retries, redeliveries and replays, so
receivers de-duplicate on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from google.protobuf.message import DecodeError

from ccmesh.configplane.models import Tenant
from ccmesh.envelope import event_type
from contactcenter.events.v1 import events_pb2
from integration.adapters.dead_letters import DeadLetterStore
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


class EventPump(Protocol):
    """Feeds the worker its subscription's events (subject, bytes), acknowledging each one
    after the worker settled it (`adapters.contact_lanes.ContactLanes`)."""

    async def start(self, settle: Callable[[str, bytes], Awaitable[None]]) -> None: ...
    async def stop(self, *, delete_consumer: bool = False) -> None: ...


class EndpointWorker:
    def __init__(
        self,
        endpoint: Endpoint,
        pump: EventPump,
        transport: Transport,
        dead_letters: DeadLetterStore,
        settings: DeliverySettings,
        metrics: DeliveryMetrics,
    ) -> None:
        self.endpoint = endpoint
        self._pump = pump
        self._transport = transport
        self._dead_letters = dead_letters
        self._settings = settings
        self._metrics = metrics
        self.breaker = CircuitBreaker(
            failure_threshold=settings.breaker_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
            max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
        )

    async def start(self) -> None:
        await self._pump.start(self.settle)

    async def stop(self, *, delete_consumer: bool = False) -> None:
        await self._pump.stop(delete_consumer=delete_consumer)
        await self._transport.close()
        self._metrics.breaker_states.pop(self.endpoint.name, None)

    async def settle(self, subject: str, data: bytes) -> None:
        """Settle one event of the stream: delivered, filtered, withheld or dead-lettered."""
        try:
            event = events_pb2.Event.FromString(data)
            kind = event_type(event)
        except (DecodeError, ValueError) as error:
            log.error(
                "subscription %s: skipping undecodable message %s: %s",
                self.endpoint.name,
                subject,
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
