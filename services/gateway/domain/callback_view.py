"""What an agent is shown of a queued call-back request (pure): the number its call will ring."""

from __future__ import annotations

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.domain.outbound_message import phone_of_whatsapp_id


def number_to_call(events: list[events_pb2.Event]) -> str:
    """The customer's number from the contact's opening event: their phone (SMS, voice) or the
    number of their WhatsApp id; "" when they came on a channel without one."""
    for event in events:
        if event.WhichOneof("payload") != "contact_created":
            continue
        sender = getattr(event.contact_created, "from")  # `from` is a Python keyword
        if sender.kind == common_pb2.IDENTIFIER_KIND_PHONE:
            return str(sender.value)
        if sender.kind == common_pb2.IDENTIFIER_KIND_WHATSAPP_ID:
            return phone_of_whatsapp_id(sender.value)
        return ""
    return ""
