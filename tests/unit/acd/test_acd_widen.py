"""Overflow `widen`: the contact keeps its queue and position; the widening survives the bucket."""

import pytest

from ccmesh.channels import Channel
from routing.adapters.acd_codec import contact_from_bytes, contact_to_bytes
from routing.domain import contacts as contact_rules
from routing.domain.contacts import ContactRecord
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import ReservationError


def test_widen_adds_the_target_once_and_keeps_queue_and_position() -> None:
    record = ContactRecord(WaitingContact("c1", "billing", Channel.WEBCHAT, 50, 990.0, 3))
    widened = contact_rules.widen(record, "general")
    assert widened.widened_to == ("general",)
    assert widened.contact == record.contact
    assert contact_rules.widen(widened, "general") == widened
    assert contact_rules.widen(widened, "billing") == widened  # its own queue: nothing to widen
    assert contact_from_bytes(contact_to_bytes(widened)) == widened


def test_only_a_waiting_contact_is_widened_and_a_move_drops_its_target() -> None:
    record = contact_rules.widen(
        ContactRecord(WaitingContact("c1", "billing", Channel.WEBCHAT, 50, 1.0)), "general"
    )
    with pytest.raises(ReservationError):
        contact_rules.widen(contact_rules.offer(record, "r1", "a1", 30.0), "sales")
    moved = contact_rules.move(record, "general")
    assert (moved.contact.queue, moved.widened_to) == ("general", ())


def test_records_written_before_widen_still_read() -> None:
    record = ContactRecord(WaitingContact("c1", "billing", Channel.WEBCHAT, 50, 1.0))
    raw = contact_to_bytes(record).replace(b',"widened_to":[]', b"")
    assert b"widened_to" not in raw
    assert contact_from_bytes(raw) == record
