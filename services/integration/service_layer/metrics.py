"""The integration service's metrics (OpenTelemetry): deliveries, latency, retries, DLQ depth, breakers."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ccmesh import telemetry


class DeliveryMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or telemetry.meter()
        self.deliveries = meter.create_counter(
            "contactcenter.integration.deliveries",
            unit="{delivery}",
            description="Webhook deliveries by outcome: delivered, filtered, withheld, dead_lettered.",
        )
        self.latency = meter.create_histogram(
            "contactcenter.integration.delivery.latency",
            unit="s",
            description="From the event's occurrence to its successful delivery.",
        )
        self.retries = meter.create_counter(
            "contactcenter.integration.delivery.retries",
            unit="{retry}",
            description="Failed attempts retried.",
        )
        self.dead_letter_depth = meter.create_up_down_counter(
            "contactcenter.integration.dead_letters",
            unit="{event}",
            description="Events waiting in the dead-letter store (this instance's view).",
        )
        #: subscription -> breaker state (0 closed, 1 half-open, 2 open), read by the gauge callback.
        self.breaker_states: dict[str, int] = {}
        meter.create_observable_gauge(
            "contactcenter.integration.breaker.state",
            callbacks=[self._observe_breakers],
            description="Circuit breaker per subscription: 0 closed, 1 half-open, 2 open.",
        )

    def _observe_breakers(self, _options: CallbackOptions) -> Iterable[Observation]:
        for name, state in list(self.breaker_states.items()):
            yield Observation(state, {"subscription": name})
