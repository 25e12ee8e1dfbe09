"""The integration service's domain events as protobuf `Event`s on the region's stream (the one
place that maps them)."""

from __future__ import annotations

from google.protobuf.message import Message

from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.domain import events as ev

#: `source` of the events the integration service publishes.
SOURCE = "integration"
#: The entry point a task created by an inbound action names.
TASK_ENTRY_POINT = "integration"


def to_protobuf(event: ev.IntegrationEvent, region: str) -> events_pb2.Event:
    payload, suffix = _payload(event)
    return new_event(
        payload,
        tenant_id=event.tenant_id,
        region=region,
        source=SOURCE,
        contact_id=event.contact_id,
        event_id=f"{event.action_id}-{suffix}",
    )


def _payload(event: ev.IntegrationEvent) -> tuple[Message, str]:
    match event:
        case ev.TaskCreated():
            created = events_pb2.ContactCreated(
                channel=common_pb2.CHANNEL_KIND_TASK, entry_point=TASK_ENTRY_POINT
            )
            return created, "created"
        case ev.ContactClosedByAction(outcome=outcome, requested_by=requested_by):
            return events_pb2.ContactClosed(
                outcome=outcome, closed_by=f"integration:{requested_by}"
            ), "closed"
    raise TypeError(f"no protobuf event for {type(event).__name__}")


class StreamEvents:
    """Publishes the integration service's domain events on the region's event stream."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    async def publish(self, event: ev.IntegrationEvent) -> None:
        await self._events.publish(to_protobuf(event, self._events.region))
