"""The gateway's domain events as protobuf `Event`s on the region's stream (the one place that maps them)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from google.protobuf.message import Message

from ccmesh.envelope import new_event, timestamp_at
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.domain import events as ev

#: `source` of every event the gateway publishes.
GATEWAY_SOURCE = "gateway"


class EventStream(Protocol):
    """The region's event stream (`ccmesh.events.EventPublisher`); the event id de-duplicates."""

    async def publish(self, event: events_pb2.Event, timeout: float = ...) -> Any: ...
    async def send(self, events: Sequence[events_pb2.Event], timeout: float = ...) -> Awaitable[Any]: ...


class StreamEvents:
    """The gateway's event publisher: each domain event goes to the stream as its protobuf."""

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    async def publish(self, event: ev.GatewayEvent) -> Any:
        return await self._stream.publish(to_protobuf(event))

    async def send(self, *events: ev.GatewayEvent) -> Awaitable[Any]:
        """Sent in order, acknowledgements awaited together by the caller (see `EventPublisher.send`)."""
        return await self._stream.send([to_protobuf(event) for event in events])


def to_protobuf(event: ev.GatewayEvent) -> events_pb2.Event:
    return new_event(
        _payload(event),
        tenant_id=event.tenant_id,
        brand_id=event.brand_id,
        region=event.region,
        source=GATEWAY_SOURCE,
        contact_id=event.contact_id,
        event_id=event.event_id,
    )


def _payload(event: ev.GatewayEvent) -> Message:
    match event:
        case ev.ContactCreated():
            sender = common_pb2.Identifier(kind=event.from_kind, value=event.from_value)  # type: ignore[arg-type]
            return events_pb2.ContactCreated(
                channel=event.channel,  # type: ignore[arg-type]
                customer_id=event.customer_id,
                entry_point=event.entry_point,
                # `from` is a Python keyword: the field can be set only this way.
                **{"from": sender},
            )
        case ev.MessageReceived():
            return events_pb2.MessageReceived(
                message_id=event.message_id,
                channel=event.channel,  # type: ignore[arg-type]
                customer_id=event.customer_id,
                text=event.text,
                provider_message_id=event.provider_message_id,
                subject=event.subject,
                language=event.language,
                sender_name=event.sender_name,
                attachments=[
                    events_pb2.AttachmentRef(
                        filename=a.filename,
                        content_type=a.content_type,
                        size=a.size,
                        sha256=a.sha256,
                        bucket=a.bucket,
                        object=a.object,
                    )
                    for a in event.attachments
                ],
            )
        case ev.ContactQueued():
            return events_pb2.ContactQueued(
                queue=event.queue,
                channel=event.channel,  # type: ignore[arg-type]
                language=event.language,
                intent=event.intent,
                sentiment=event.sentiment,
                brand=event.brand_id,
                callback=event.callback,
            )
        case ev.MessageSent():
            return events_pb2.MessageSent(
                message_id=event.message_id,
                channel=event.channel,  # type: ignore[arg-type]
                text=event.text,
                sender=event.sender,
            )
        case ev.CallbackRequested():
            return events_pb2.CallbackRequested(
                queue=event.queue,
                channel=event.channel,
                endpoint=event.endpoint,
                attempt=event.attempt,
                agent_id=event.agent_id,
                first_request=event.first_request,
            )
        case ev.CallbackAttemptFailed():
            return events_pb2.CallbackAttemptFailed(
                queue=event.queue,
                attempt=event.attempt,
                attempts_allowed=event.attempts_allowed,
                status=event.status,
                final=event.final,
                retry_at=timestamp_at(event.retry_at) if event.retry_at else None,
                endpoint=event.endpoint,
                agent_id=event.agent_id,
                first_request=event.first_request,
            )
        case ev.MessageStatusChanged():
            return events_pb2.MessageStatusChanged(
                message_id=event.message_id,
                channel=event.channel,  # type: ignore[arg-type]
                status=event.status,
                provider_message_id=event.provider_message_id,
                reason=event.reason,
                attempts=event.attempts,
                provider=event.provider,
            )
        case ev.ContactAccepted():
            return events_pb2.ContactAccepted(
                queue=event.queue, agent_id=event.agent_id, reservation_id=event.reservation_id
            )
        case ev.ContactWrappedUp():
            return events_pb2.ContactWrappedUp(
                agent_id=event.agent_id,
                queue=event.queue,
                disposition=event.disposition,
                notes=event.notes,
            )
        case ev.ContactClosed():
            return events_pb2.ContactClosed(outcome=event.outcome, closed_by=event.closed_by)
        case ev.ContactDeflected():
            wait = event.estimated_wait_seconds
            return events_pb2.ContactDeflected(
                queue=event.queue,
                channel=event.channel,  # type: ignore[arg-type]
                ceiling=event.ceiling,
                max_waiting=event.max_waiting,
                waiting=event.waiting,
                estimated_wait_seconds=wait if math.isfinite(wait) else -1.0,
                offered=event.offered,
            )
    raise TypeError(f"{type(event).__name__} has no protobuf payload")
