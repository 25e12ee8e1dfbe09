"""Contacts closed outside the ACD leave it: the customer hung up in the queue, a chat ended.

The gateway (or a journey) publishes ContactClosed; a durable consumer shared by every routing
instance of the region hands each one to `close_contact`, which:

- takes a waiting contact out of its queue for good (it is never offered afterwards);
- for an offered contact, withdraws the offer: the agent's slot is freed and OfferWithdrawn
  tells the agent's workspace to drop the offer card;
- for an assigned contact, frees the agent's slot (the agent's wrap-up still finishes its side).

Every step is idempotent, so a redelivered event, or two instances seeing the same one, change
nothing twice: the contact transition `abandon` leaves a closed record as it is; the ledger
release names the reservation and does nothing once it is gone; OfferWithdrawn has an event id
fixed by the reservation, so a second publish is dropped by the stream. A closed record keeps
its reservation and agent, so a redelivery after a crash between the steps finishes them.
A contact handed to another region (transferring/transferred) is that region's to close.

A close can overtake the hand-off it ends: the two events are read by different consumers, so
a caller who hangs up right after reaching the queue may be closed before the ACD has queued
them. A close of a contact the ACD does not know therefore leaves a closed record (no queue, no
agent), and the late hand-off finds a known contact and changes nothing. Only queued contacts
are closed by the gateway (a caller waiting for an agent), so such records stay few.
"""

from __future__ import annotations

import contextlib

from ccmesh.channels import Channel
from routing.adapters.acd_store import UnknownKey
from routing.domain import contacts as contact_rules
from routing.domain import reservations as ledger_rules
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import ContactAbandoned, OfferWithdrawn, RoutingEvent
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import AgentLedger, ReservationError
from routing.service_layer.ports import AcdRecords, EventSink


async def close_contact(
    store: AcdRecords, events: EventSink, tenant: str, contact_id: str, now: float
) -> ContactRecord:
    """Close the contact in the ACD; its record afterwards."""

    def change(old: ContactRecord | None) -> ContactRecord:
        if old is None:  # the hand-off has not reached the ACD yet: it must not queue it later
            # The channel is unknown here and never read: a closed record is never routed.
            placeholder = WaitingContact(contact_id, "", Channel.WEBCHAT, 50, now)
            return ContactRecord(placeholder, ContactStatus.CLOSED)
        return contact_rules.abandon(old, now)

    # Whether this close took the contact out of its queue (the last try of the write tells).
    left_queue: list[bool] = [False]

    def announce(old: ContactRecord | None, new: ContactRecord) -> tuple[RoutingEvent, ...]:
        left_queue[0] = old is not None and old.status is ContactStatus.WAITING
        if old is not None and old.status is ContactStatus.CLOSED:
            return ()  # closed already: its first close announced it
        return withdrawn(tenant, new)

    # The closed record and the withdrawal of its offer are one write: should this instance die
    # before publishing it, a sweeper sends it a sweep later and the agent's card still goes.
    record = await store.update_contact(tenant, contact_id, change, announce=announce)
    if left_queue[0] and record.status is ContactStatus.CLOSED:
        await events(ContactAbandoned(tenant, record))
    if record.status is not ContactStatus.CLOSED or not record.agent_id or not record.reservation_id:
        return record
    reservation_id = record.reservation_id

    def free_slot(ledger: AgentLedger) -> AgentLedger:
        try:
            return ledger_rules.release(ledger, reservation_id, now)
        except ReservationError:
            return ledger  # freed already: by a complete, a sweeper or an earlier delivery

    with contextlib.suppress(UnknownKey):
        await store.update_ledger(tenant, record.agent_id, free_slot)
    # A redelivery publishes again: the event's id is fixed by the reservation, so the stream
    # drops the copy, and a first delivery cut short before its publish is finished here.
    for event in withdrawn(tenant, record):
        await events(event)
    return record


def withdrawn(tenant: str, record: ContactRecord) -> tuple[RoutingEvent, ...]:
    """What announces a contact closed while its offer rang (never accepted): the agent's offer
    card must go. Nothing for any other close."""
    if record.status is not ContactStatus.CLOSED or not record.agent_id or not record.reservation_id:
        return ()
    if record.answered_at:
        return ()
    return (OfferWithdrawn(tenant, record, "contact_closed"),)
