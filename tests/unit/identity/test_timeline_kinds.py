"""The timeline consumer reads only TIMELINE_KINDS: every other kind must make no entry."""

from __future__ import annotations

import pytest

from contactcenter.events.v1 import events_pb2
from identity.domain.timeline import TIMELINE_KINDS, ContactLink, entry_from_event

PAYLOAD_KINDS = [field.name for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields]


def _event_of(kind: str) -> events_pb2.Event:
    event = events_pb2.Event(event_id="e1", contact_id="k1")
    event.tenant.tenant_id = "acme"
    payload = getattr(event, kind)
    payload.SetInParent()
    # Kinds that name their customer themselves make an entry only when they do.
    if "customer_id" in payload.DESCRIPTOR.fields_by_name:
        payload.customer_id = "cust-1"
    return event


@pytest.mark.parametrize("kind", PAYLOAD_KINDS)
def test_only_timeline_kinds_make_entries(kind: str) -> None:
    entry = entry_from_event(_event_of(kind), ContactLink("cust-1", 2))
    if kind not in TIMELINE_KINDS:
        assert entry is None, f"{kind} makes a timeline entry but the consumer does not read it"


def test_timeline_kinds_are_event_kinds() -> None:
    assert TIMELINE_KINDS.issubset(PAYLOAD_KINDS)
    assert all(entry_from_event(_event_of(kind), ContactLink("cust-1", 2)) for kind in TIMELINE_KINDS)
