"""A surge detector's rising alert as the protobuf `SurgeDetected` event (the one place that maps it)."""

from __future__ import annotations

import re

from ccmesh import channels
from ccmesh.envelope import new_event, stable_event_id, timestamp_at
from ccsurge.assessment import Assessment
from contactcenter.events.v1 import events_pb2

SURGE_SOURCE = "routing-surge"
_NOT_IN_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def surge_contact_id(queue: str) -> str:
    """The envelope's contact id (the subject's last token): one per queue, "surge-" for the tenant."""
    return f"surge-{_NOT_IN_TOKEN.sub('_', queue)}"


def surge_detected(assessment: Assessment, interval_seconds: float) -> events_pb2.Event:
    """The event of an alert that rose at the interval ending `assessment.at`; its id is fixed by
    the key, metric and interval, so every instance of the region publishing it makes one event."""
    key = assessment.key
    payload = events_pb2.SurgeDetected(
        queue=key.queue,
        channel=channels.to_kind(key.channel) if key.channel else 0,  # type: ignore[arg-type]
        metric=assessment.metric.value,
        value=assessment.value,
        baseline=assessment.baseline,
        score=assessment.score,
        direction=assessment.direction,
        interval_seconds=interval_seconds,
    )
    payload.interval_end.CopyFrom(timestamp_at(assessment.at))
    return new_event(
        payload,
        tenant_id=key.tenant_id,
        region=key.region,
        source=SURGE_SOURCE,
        contact_id=surge_contact_id(key.queue),
        event_id=stable_event_id(
            "surge", key.region, key.tenant_id, key.queue, key.channel, assessment.metric.value, assessment.at
        ),
        occurred_at=timestamp_at(assessment.at),
    )
