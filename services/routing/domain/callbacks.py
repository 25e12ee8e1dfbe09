"""Queued call-back requests asked for by the customer (pure).

A customer waiting on a text channel that has a number to call (SMS, WhatsApp) may reply with a
short command (`ccmesh.callback_commands`): `CALL ME` turns the waiting contact into a call-back
request that keeps its place; `CANCEL` takes a request that still waits out of the queue. A
customer on another channel asks through the gateway, which holds the number to call (a chat
visitor's, an e-mail sender's, a caller on hold pressing 1): `number_known`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The customer's words are owned by ccmesh.callback_commands (the gateway reads them too).
from ccmesh.callback_commands import CALLABLE_CHANNELS as CALLABLE_CHANNELS
from ccmesh.callback_commands import Command as Command
from ccmesh.callback_commands import command_in as command_in
from ccmesh.channels import Channel
from routing.domain.contacts import ContactRecord, ContactStatus

REQUEST_TEXT = (
    "We will call you back on this number when it is your turn; you keep your place in the queue. "
    "Reply CANCEL to cancel the call back."
)
#: The same, to a customer whose number the gateway holds (not the channel's own address).
REQUEST_TEXT_GIVEN_NUMBER = (
    "We will call you back on the number you gave us when it is your turn; you keep your place in "
    "the queue. Reply CANCEL to cancel the call back."
)
CANCELLED_TEXT = "Your call back is cancelled. Write to us again whenever you need us."
#: ContactClosed outcome of a call-back request its customer cancelled.
CANCELLED_OUTCOME = "callback_cancelled"


class NotCancellable(Exception):
    """The contact is no call-back request that still waits; the message says what it is."""


def can_request(record: ContactRecord, *, number_known: bool = False) -> bool:
    """Whether a waiting contact may become a call-back request (it is not one already, waits, and
    its customer has a number to call: its channel's address, or one the gateway holds,
    `number_known`)."""
    return (
        record.status is ContactStatus.WAITING
        and not record.closed_action
        and (number_known or record.contact.channel in CALLABLE_CHANNELS)
    )


def request_text(channel: Channel) -> str:
    """What the customer is told on their channel once their request keeps its place."""
    return REQUEST_TEXT if channel in CALLABLE_CHANNELS else REQUEST_TEXT_GIVEN_NUMBER


def check_cancellable(record: ContactRecord | None, contact_id: str) -> ContactRecord:
    """The record, if it is a call-back request not yet taken by an agent; else NotCancellable."""
    if record is None:
        raise NotCancellable(f"contact {contact_id} is not waiting in a queue")
    if record.closed_action != "callback":
        raise NotCancellable(f"contact {contact_id} is no call-back request")
    if record.status not in (ContactStatus.WAITING, ContactStatus.OFFERED):
        # Accepted: the call is being placed; a closed one is over already.
        raise NotCancellable(f"contact {contact_id}'s call back is {record.status.value}, too late to cancel")
    return record


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A cancelled request, for whoever announces it (CallbackCancelled, the customer's message)."""

    tenant: str
    record: ContactRecord
    #: "customer" or "api".
    by: str


@dataclass(frozen=True, slots=True)
class CallbackState:
    """A call-back request that is not over, as the supervisor's board lists it."""

    contact_id: str
    queue: str
    #: "scheduled" (waits for its turn, or rings at an agent) or "placed" (accepted: calling).
    state: str
    agent_id: str
    waiting_since: float
    channel: Channel


def open_requests(records: Iterable[ContactRecord]) -> list[CallbackState]:
    """The call-back requests among `records` that are not over, first to be called back first."""
    found = []
    for record in records:
        if record.closed_action != "callback":
            continue
        if record.status in (ContactStatus.WAITING, ContactStatus.OFFERED):
            state = "scheduled"
        elif record.status is ContactStatus.ASSIGNED:
            state = "placed"
        else:
            continue
        contact = record.contact
        found.append(
            (
                (contact.enqueued_at, contact.sequence),
                CallbackState(
                    contact.contact_id,
                    contact.queue,
                    state,
                    record.agent_id if state == "placed" or record.status is ContactStatus.OFFERED else "",
                    contact.enqueued_at,
                    contact.channel,
                ),
            )
        )
    return [state for _, state in sorted(found, key=lambda item: item[0])]
