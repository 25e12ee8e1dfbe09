"""The ai service's metrics (OpenTelemetry): how long each pipeline stage takes per message.

    contactcenter.ai.stage.duration  histogram  seconds per message and stage (the pipeline's
                                                component: language, intent, sentiment, pii, ...),
                                                per tenant and pipeline

Stage and pipeline names come from configuration and installed components, so the label set
stays bounded; nothing of the message is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.metrics import Meter

from ccmesh import telemetry

#: Upper bounds in seconds: a rule-based stage takes tens of microseconds, an encoder stage tens
#: of milliseconds; the upper buckets show a stalled pool.
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class AiMetrics:
    def __init__(self, meter: Meter | None = None) -> None:
        meter = meter or telemetry.meter()
        self.stage_duration = meter.create_histogram(
            "contactcenter.ai.stage.duration",
            unit="s",
            description="Time one pipeline stage took on one message",
            explicit_bucket_boundaries_advisory=list(STAGE_BUCKETS),
        )

    def stages(self, tenant: str, pipeline: str, seconds: Mapping[str, float]) -> None:
        for stage, duration in seconds.items():
            attributes = {"tenant": tenant, "pipeline": pipeline, "stage": stage}
            self.stage_duration.record(duration, attributes)
