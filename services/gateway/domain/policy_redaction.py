"""Events as they may leave the region under a `redaction` rule: without the customer's personal
data.

A handed-over contact's events are read by another region (its conversation at view time, its
live events as they happen). Where a redaction rule governs the home region, every free-text
field of an event is passed through the one redactor (`ccpolicy.pii`), fields that only name a
person are cleared, and the customer's identifiers (phone number, e-mail address: any
`Identifier`) are removed, so what crosses holds `[PHONE]`, `[EMAIL]` and the like instead. The
walk covers every payload, including those added later; ids are left alone (the receiving side
needs them, and they hold no personal data).
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ccpolicy.pii import redact
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

#: What the receiving region's agent calls the customer when their name may not cross.
ANONYMOUS_NAME = "customer"
#: Fields that hold nothing but a person's name.
_NAME_FIELDS = frozenset({"sender_name", "display_name", "customer_name"})
#: Where the contact came in (our own number or address): says which customer line they used.
_CLEARED_FIELDS = frozenset({"entry_point"})
_IDENTIFIER = common_pb2.Identifier.DESCRIPTOR


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids", "sid", "_request"))


def _redacted(text: str) -> str:
    return redact(text)[0] if text else text


def _scrub(message: Message) -> None:
    for field, value in message.ListFields():
        name = field.name
        if field.message_type is _IDENTIFIER or name in _NAME_FIELDS or name in _CLEARED_FIELDS:
            message.ClearField(name)
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                message.ClearField(name)  # no payload has a map; one added later stays home whole
            elif field.is_repeated:
                for item in value:
                    _scrub(item)
            else:
                _scrub(value)
        elif field.type == FieldDescriptor.TYPE_STRING and not _is_id(name):
            if field.is_repeated:
                value[:] = [_redacted(text) for text in value]
            else:
                setattr(message, name, _redacted(value))


def redacted_for_crossing(event: events_pb2.Event) -> events_pb2.Event:
    """A copy of `event` whose payload holds no personal data (the original is untouched); the
    envelope (ids, tenant, region, times) is kept as it is."""
    shown = events_pb2.Event()
    shown.CopyFrom(event)
    kind = shown.WhichOneof("payload")
    if kind is not None:
        _scrub(getattr(shown, kind))
    return shown
