"""The event envelope: the one way to build an `events.v1.Event` and its timestamps.

Every service publishes domain facts as `Event`s with the same header fields; building them
here keeps the id, time, tenant, region, source and schema version filled in the same way
everywhere. A service turns its own domain events into payload messages in one adapter and
hands them to `new_event`.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

#: The payload schema version every producer writes today.
SCHEMA_VERSION = 1

_PAYLOAD_FIELDS: dict[str, str] = {
    field.message_type.full_name: field.name
    for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
    if field.message_type is not None
}
#: Every event kind: the payload field names, as the fourth token of an event's subject.
EVENT_KINDS: frozenset[str] = frozenset(_PAYLOAD_FIELDS.values())


def timestamp_now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


def timestamp_at(seconds: float) -> Timestamp:
    """A protobuf timestamp for a Unix time in seconds (a float, as `time.time()` gives)."""
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def timestamp_of(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def event_type(event: events_pb2.Event) -> str:
    """The name of the event's payload (`contact_created`, ...): its type everywhere."""
    kind = event.WhichOneof("payload")
    if kind is None:
        raise ValueError(f"event {event.event_id!r} has no payload")
    return kind


def stable_event_id(*parts: object) -> str:
    """An id fixed by what the event announces, so a retried publish is dropped as a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(p) for p in parts)))


def new_event(
    payload: Message,
    *,
    tenant_id: str,
    region: str,
    source: str,
    contact_id: str = "",
    brand_id: str = "",
    event_id: str = "",
    occurred_at: Timestamp | None = None,
) -> events_pb2.Event:
    """An `Event` carrying `payload` (one of the envelope's payload messages).

    `event_id` defaults to a random id; pass one fixed by the fact (see `stable_event_id`) where a
    retry must not publish twice.
    """
    field_name = _PAYLOAD_FIELDS.get(payload.DESCRIPTOR.full_name)
    if field_name is None:
        raise TypeError(f"{payload.DESCRIPTOR.full_name} is not an event payload")
    event = events_pb2.Event(
        event_id=event_id or uuid.uuid4().hex,
        tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id),
        region=region,
        contact_id=contact_id,
        source=source,
        schema_version=SCHEMA_VERSION,
    )
    event.occurred_at.CopyFrom(occurred_at if occurred_at is not None else timestamp_now())
    getattr(event, field_name).CopyFrom(payload)
    return event
