"""The pure rules behind TransferContact and closed contacts, and where their events go: only
the holding agent's assigned contact moves (a new arrival in the target queue, keeping what it
routes by), a close leaves a closed record as it is, and every new event type is classified for
webhooks (personal or not) by its fields, and placed in the customer's timeline when it is history."""

from __future__ import annotations

import pytest

from ccmesh.channels import Channel
from contactcenter.events.v1 import events_pb2
from identity.domain.timeline import OUTCOME, TRANSFER, ContactLink, entry_from_event
from integration.domain.payloads import NON_PERSONAL_TYPES, carries_personal_data
from routing.domain import contacts as rules
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import ReservationError

CONTACT = WaitingContact(
    "c1", "support", Channel.VOICE, 70, 100.0, required_skills=frozenset({"en"}), language="en-GB"
)
ASSIGNED = ContactRecord(CONTACT, ContactStatus.ASSIGNED, "r1", "a1", 0.0, 1, answered_at=120.0)


def test_a_transfer_is_a_new_arrival_in_the_target_queue_keeping_what_it_routes_by() -> None:
    moved = rules.transfer_queue(ASSIGNED, "a1", "billing", 500.0)
    assert (moved.status, moved.contact.queue, moved.contact.enqueued_at) == (
        ContactStatus.WAITING,
        "billing",
        500.0,
    )
    assert (moved.contact.channel, moved.contact.priority, moved.contact.language) == (
        Channel.VOICE,
        70,
        "en-GB",
    )
    assert moved.contact.required_skills == {"en"}
    assert (moved.reservation_id, moved.agent_id, moved.answered_at, moved.passed_by) == (
        "",
        "",
        0.0,
        ("a1",),
    )
    overridden = rules.transfer_queue(
        ASSIGNED, "a1", "billing", 500.0, required_skills=frozenset({"billing"}), language="de", priority=90
    )
    assert (overridden.contact.required_skills, overridden.contact.language) == (frozenset({"billing"}), "de")
    assert overridden.contact.priority == 90


@pytest.mark.parametrize(
    ("record", "agent", "queue", "error"),
    [
        (ASSIGNED, "a2", "billing", ReservationError),  # not the agent holding it
        (ContactRecord(CONTACT), "a1", "billing", ReservationError),  # waiting: nobody holds it
        (ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1"), "a1", "billing", ReservationError),
        (ASSIGNED, "a1", "support", AcdInputError),  # its own queue
    ],
)
def test_only_the_holding_agent_moves_an_assigned_contact(
    record: ContactRecord, agent: str, queue: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        rules.transfer_queue(record, agent, queue, 500.0)
    with pytest.raises(AcdInputError, match="priority"):
        rules.transfer_queue(ASSIGNED, "a1", "billing", 500.0, priority=0)


def test_a_close_takes_the_contact_out_once_and_keeps_the_reservation() -> None:
    for record in (
        ContactRecord(CONTACT),
        ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1", 9.0),
        ASSIGNED,
    ):
        closed = rules.abandon(record)
        assert closed.status is ContactStatus.CLOSED
        assert (closed.reservation_id, closed.agent_id) == (record.reservation_id, record.agent_id)
        assert rules.abandon(closed) == closed
    for status in (ContactStatus.TRANSFERRING, ContactStatus.TRANSFERRED):
        elsewhere = ContactRecord(CONTACT, status, "r1", transfer_to="us/support")
        assert rules.abandon(elsewhere) == elsewhere


#: Field names that would carry personal data in an event payload.
_PERSONAL_FIELDS = {
    "from",
    "text",
    "phone",
    "number",
    "to",
    "address",
    "email",
    "notes",
    "customer_id",
    "name",
}


def test_non_personal_event_types_have_no_personal_fields_and_new_ones_are_classified() -> None:
    payloads = events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
    by_name = {f.name: f.message_type for f in payloads}
    for kind in NON_PERSONAL_TYPES:
        assert kind in by_name, kind
        message = by_name[kind]
        assert message is not None, kind
        fields = {f.name for f in message.fields}
        assert not fields & _PERSONAL_FIELDS, (kind, fields & _PERSONAL_FIELDS)
    for kind in (
        "offer_declined",
        "offer_timed_out",
        "contact_requeued",
        "contact_overflowed",
        "offer_withdrawn",
    ):
        assert not carries_personal_data(kind), kind
    assert not carries_personal_data("callback_requested")  # queue, channel, endpoint only
    assert carries_personal_data("message_status_changed")  # a provider's reason may quote the address
    assert carries_personal_data("contact_wrapped_up")  # the agent's free-text notes


def _event(**payload: object) -> events_pb2.Event:
    event = events_pb2.Event(event_id="e1", contact_id="k1", **payload)  # type: ignore[arg-type]
    event.occurred_at.FromSeconds(1_700_000_000)
    return event


def test_overflows_and_wrap_ups_are_in_the_customers_timeline() -> None:
    link = ContactLink("cust-1", 2)
    went = entry_from_event(
        _event(
            contact_overflowed=events_pb2.ContactOverflowed(
                rule="sun",
                from_queue="support",
                to_region="us",
                to_queue="us-support",
                reason="waited 61s > 60s",
            )
        ),
        link,
    )
    assert went is not None and (went.kind, went.customer_id, went.channel) == (TRANSFER, "cust-1", 2)
    assert went.summary == "support -> us/us-support: waited 61s > 60s"
    wrapped = entry_from_event(
        _event(
            contact_wrapped_up=events_pb2.ContactWrappedUp(
                agent_id="alice", disposition="resolved", notes="sent"
            )
        ),
        link,
    )
    assert wrapped is not None and (wrapped.kind, wrapped.summary) == (OUTCOME, "resolved (alice): sent")
    # Offer bookkeeping is not the customer's history.
    assert entry_from_event(_event(offer_withdrawn=events_pb2.OfferWithdrawn(queue="q")), link) is None
