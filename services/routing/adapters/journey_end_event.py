"""The JourneyEnded event of a journey that ended (built with the envelope's one constructor)."""

from __future__ import annotations

from ccflow.journey import Journey
from ccmesh.envelope import new_event, stable_event_id, timestamp_at
from contactcenter.events.v1 import events_pb2
from routing.domain.journey_end import journey_end


def journey_ended(region: str, tenant: str, journey: Journey, ended_at: float) -> events_pb2.Event:
    end = journey_end(journey.path, journey.node, journey.outcome, journey.started_at, ended_at)
    payload = events_pb2.JourneyEnded(
        flow=journey.flow,
        version=journey.version,
        alias=journey.alias,
        path=list(end.path),
        truncated=end.truncated,
        end_node=end.end_node,
        outcome=end.outcome,
        queue=end.queue,
        detail=end.detail,
        duration_seconds=end.duration_seconds,
        started_at=journey.started_at,
    )
    return new_event(
        payload,
        tenant_id=tenant,
        brand_id=journey.brand,
        region=region,
        contact_id=journey.journey_id,
        source="routing",
        occurred_at=timestamp_at(ended_at),
        # A journey ends once: a retried step publishes the same id, which the stream drops.
        event_id=stable_event_id("routing", tenant, journey.journey_id, "ended"),
    )
