"""A contact handed over to another region: who may read it from here, and what they are shown.

Follow-the-sun moves a waiting contact to another region's queue, but the customer's data stays
in its home region. The agent there reads the conversation from the home gateway at view time;
only the region the contact was last handed over to may, and it is shown the conversation (both
sides and AI insights), not the customer's identifiers or reply addresses.
"""

from __future__ import annotations

from collections.abc import Mapping

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

#: The events an agent of the receiving region is shown; channel legs and identifiers stay here.
SHOWN_PAYLOADS = frozenset({"contact_created", "message_received", "message_sent", "ai_insight"})


class NotHandedOver(LookupError):
    """The contact was not handed over to the region asking about it (or is unknown here)."""


def handed_over_to(events: list[events_pb2.Event]) -> str:
    """The region the contact was last handed over to; empty when it never left this region."""
    region = ""
    for event in events:
        if event.WhichOneof("payload") == "contact_overflowed":
            region = event.contact_overflowed.to_region
    return region


def check_handed_over(events: list[events_pb2.Event], contact_id: str, requesting_region: str) -> None:
    target = handed_over_to(events)
    if not requesting_region or target != requesting_region:
        raise NotHandedOver(f"contact {contact_id!r} was not handed over to region {requesting_region!r}")


#: Profile attributes that hold how the customer wants to be addressed, in order of preference.
NAME_ATTRIBUTES = ("display_name", "displayName", "name", "full_name")
_KIND_LABELS = {
    common_pb2.IDENTIFIER_KIND_PHONE: "phone",
    common_pb2.IDENTIFIER_KIND_EMAIL: "e-mail",
    common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID: "web chat visitor",
}


def display_name(attributes: Mapping[str, str], events: list[events_pb2.Event]) -> str:
    """How the agent addresses the customer: the profile's name, else the identifier they wrote
    from with all but its last four characters hidden (the agent needs no more to tell two apart)."""
    for key in NAME_ATTRIBUTES:
        if attributes.get(key, "").strip():
            return attributes[key].strip()
    for event in events:
        if event.WhichOneof("payload") == "contact_created":
            used = getattr(event.contact_created, "from")
            if used.value:
                label = _KIND_LABELS.get(used.kind, "customer")
                return f"{label} ...{used.value[-4:]}"
    return "customer"


def shown_to_remote_agent(event: events_pb2.Event) -> events_pb2.Event | None:
    """The event as the receiving region's agent may see it; None if it is not shown at all."""
    kind = event.WhichOneof("payload")
    if kind not in SHOWN_PAYLOADS:
        return None
    shown = events_pb2.Event()
    shown.CopyFrom(event)
    # The customer's identifiers never leave: the conversation is shown, not who wrote it.
    if kind == "contact_created":
        shown.contact_created.ClearField("from")
        shown.contact_created.entry_point = ""
    elif kind == "message_received":
        shown.message_received.provider_message_id = ""
    return shown
