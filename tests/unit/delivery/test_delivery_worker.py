"""The endpoint worker's retry loop with fakes: Retry-After, back-off, the breaker, the retry budget."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ccmesh.configplane.models import Tenant
from contactcenter.events.v1 import events_pb2
from integration.adapters.webhook_sender import SendResult
from integration.domain.retry import BackoffPolicy
from integration.domain.subscriptions import compile_filter
from integration.service_layer.delivery import DeliverySettings, Endpoint, EndpointWorker
from integration.service_layer.metrics import DeliveryMetrics
from integration.service_layer.transports import WebhookTarget


class ScriptedTransport:
    def __init__(self, results: list[SendResult]) -> None:
        self.results = results
        self.sent = 0

    async def send(self, event: events_pb2.Event, body: dict[str, Any]) -> SendResult:
        self.sent += 1
        return self.results.pop(0)

    async def close(self) -> None:
        return None


class FakeDeadLetters:
    def __init__(self) -> None:
        self.stored: list[tuple[str, int, str]] = []

    async def put(
        self, tenant_id: str, subscription: str, event: events_pb2.Event, attempts: int, reason: str
    ) -> None:
        self.stored.append((event.event_id, attempts, reason))


def worker(
    results: list[SendResult], metrics: DeliveryMetrics | None = None, **settings: Any
) -> tuple[EndpointWorker, ScriptedTransport, FakeDeadLetters]:
    endpoint = Endpoint(
        name="acme-crm",
        durable="webhook-acme-crm",
        tenant=Tenant(id="acme"),
        region="eu",
        endpoint_region="eu",
        target=WebhookTarget("https://x/h", "whsec_x"),
        event_types=frozenset(),
        filter=compile_filter(""),
        created=None,
    )
    transport, dead = ScriptedTransport(results), FakeDeadLetters()
    chosen = DeliverySettings(backoff=BackoffPolicy(base_seconds=1.0, max_seconds=4.0), **settings)
    built = EndpointWorker(endpoint, None, transport, dead, chosen, metrics or DeliveryMetrics())  # type: ignore[arg-type]
    return built, transport, dead


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    # Patches asyncio.sleep itself (what the worker calls); nothing else in these tests sleeps.
    monkeypatch.setattr("integration.service_layer.delivery.asyncio.sleep", fake_sleep)
    return recorded


async def test_retry_after_is_honoured_then_the_event_is_delivered(sleeps: list[float]) -> None:
    built, transport, dead = worker(
        [
            SendResult(False, 429, "HTTP 429", retry_after=7.0),
            SendResult(False, 503, "HTTP 503"),
            SendResult(True, 204),
        ]
    )
    await built.deliver(events_pb2.Event(event_id="e1"), {"id": "e1"})
    assert transport.sent == 3
    assert sleeps[0] == 7.0
    assert 1.0 <= sleeps[1] <= 2.0  # back-off after the second failed attempt, with jitter
    assert dead.stored == []


async def test_after_the_attempt_budget_the_event_is_dead_lettered(sleeps: list[float]) -> None:
    built, transport, dead = worker(
        [SendResult(False, 500, "HTTP 500")] * 3, max_attempts=3, breaker_threshold=100
    )
    await built.deliver(events_pb2.Event(event_id="e1"), {"id": "e1"})
    assert transport.sent == 3
    assert dead.stored == [("e1", 3, "HTTP 500")]


async def test_failures_while_the_breaker_probes_do_not_spend_the_event_budget(sleeps: list[float]) -> None:
    # Threshold 1: after the first failure every attempt is a half-open probe.
    failures = [SendResult(False, 0, "cannot connect: refused")] * 6
    built, transport, dead = worker(
        [*failures, SendResult(True, 200)],
        max_attempts=2,
        breaker_threshold=1,
        breaker_cooldown_seconds=1e-4,
        breaker_max_cooldown_seconds=1e-4,
    )
    await built.deliver(events_pb2.Event(event_id="e1"), {"id": "e1"})
    assert transport.sent == 7
    assert dead.stored == []


async def test_a_permanent_failure_is_dead_lettered_without_retries(sleeps: list[float]) -> None:
    built, transport, dead = worker([SendResult(False, 0, "field mapping failed", permanent=True)])
    await built.deliver(events_pb2.Event(event_id="e1"), {"id": "e1"})
    assert (transport.sent, dead.stored) == (1, [("e1", 1, "field mapping failed")])
    assert sleeps == []


async def test_metrics_count_outcomes_retries_dead_letters_and_breaker_state(sleeps: list[float]) -> None:
    reader = InMemoryMetricReader()
    metrics = DeliveryMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    built, _, _ = worker([SendResult(False, 503, "HTTP 503"), SendResult(True, 204)], metrics)
    await built.deliver(events_pb2.Event(event_id="e1"), {"id": "e1"})
    failing, _, _ = worker(
        [SendResult(False, 500, "HTTP 500")] * 2, metrics, max_attempts=2, breaker_threshold=100
    )
    await failing.deliver(events_pb2.Event(event_id="e2"), {"id": "e2"})

    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    outcomes = {p.attributes["outcome"]: p.value for p in points["contactcenter.integration.deliveries"]}
    assert outcomes == {"delivered": 1, "dead_lettered": 1}
    assert sum(p.value for p in points["contactcenter.integration.delivery.retries"]) == 2
    assert [p.value for p in points["contactcenter.integration.dead_letters"]] == [1]
    assert [p.attributes["subscription"] for p in points["contactcenter.integration.breaker.state"]] == [
        "acme-crm"
    ]
