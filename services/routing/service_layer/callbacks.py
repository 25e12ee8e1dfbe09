"""Queued call-back requests: made (by the customer's command, a fallback policy or a closed
queue), and cancelled (by the customer's command or through the API).

A request is the waiting contact itself with `closed_action` "callback": it keeps its place and
is offered like any contact; the agent's accept places the call (CallbackPlaced ->
CallbackRequested, which the gateway turns into a call and retries per its endpoint's policy).
Cancelling takes a request that still waits (or rings at an agent) out of the ACD; the customer
is told on their channel and CallbackCancelled says so (the gateway closes its contact on it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from routing.domain.callbacks import (
    REQUEST_TEXT,
    CallbackState,
    Cancelled,
    Command,
    NotCancellable,
    can_request,
    check_cancellable,
    command_in,
    open_requests,
    request_text,
)
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import CallbackScheduled, RoutingEvent
from routing.service_layer.ports import AcdRecords, AcdView, EventSink

log = logging.getLogger(__name__)

#: (tenant, contact id) -> the contact's record once closed in the ACD.
CloseContact = Callable[[str, str], Awaitable[ContactRecord]]


#: Publishes what a cancel announces.
AnnounceCancel = Callable[[Cancelled], Awaitable[None]]


class NotInAcd(LookupError):
    """The contact is not (or not yet: its hand-off is still on the way) in the ACD, so there is
    no waiting contact to make a call-back request of."""


async def convert_to_callback(
    records: AcdRecords,
    events: EventSink,
    tenant: str,
    contact_id: str,
    text: str,
    *,
    number_known: bool = False,
) -> ContactRecord | None:
    """Make the waiting contact a call-back request (it keeps its place) and tell the customer
    `text` (CallbackScheduled); the updated record, or None when the waiting contact cannot be
    called back (taken meanwhile, a request already, nobody to call). NotInAcd when the ACD holds
    no such contact.
    `number_known`: the gateway holds a number to call for a channel that has none of its own."""
    converted: list[bool] = []

    def change(current: ContactRecord | None) -> ContactRecord:
        if current is None:
            raise NotInAcd(f"contact {contact_id} waits in no queue")
        converted.clear()
        if not can_request(current, number_known=number_known):
            return current
        converted.append(True)
        return replace(current, closed_action="callback")

    def announce(old: ContactRecord | None, new: ContactRecord) -> list[RoutingEvent]:
        if old is not None and not old.closed_action and new.closed_action == "callback":
            return [CallbackScheduled(tenant, new, text)]
        return []

    updated = await records.update_contact(tenant, contact_id, change, announce=announce)
    if not converted:
        return None
    # Published after the write (the write's outbox holds it should we stop first); a repeated
    # publish carries the same event id and is dropped by the stream.
    await events(CallbackScheduled(tenant, updated, text))
    return updated


class CallbackRequests:
    def __init__(
        self,
        records: AcdRecords,
        view: AcdView,
        events: EventSink,
        close: CloseContact,
        announce_cancel: AnnounceCancel,
    ) -> None:
        self._records = records
        self._view = view
        self._events = events
        self._close = close
        self._announce_cancel = announce_cancel

    async def on_message(self, tenant: str, contact_id: str, text: str) -> Command | None:
        """A customer's message: the command it carries is carried out; which one (None: none,
        or one that did not apply, e.g. CANCEL with nothing to cancel). NotInAcd for CALL ME from
        a contact the ACD does not hold: the caller decides whether it may still arrive."""
        command = command_in(text)
        if command is Command.REQUEST:
            done = await convert_to_callback(self._records, self._events, tenant, contact_id, REQUEST_TEXT)
            if done is None:
                log.info("contact %s asked for a call back but cannot be called back", contact_id)
                return None
            return command
        if command is Command.CANCEL:
            try:
                await self.cancel(tenant, contact_id, by="customer")
            except NotCancellable as why:
                log.info("cancel from contact %s ignored: %s", contact_id, why)
                return None
            return command
        return None

    async def request(self, tenant: str, contact_id: str) -> ContactRecord | None:
        """The customer asked (through the gateway, which holds the number to call) to be called
        back: the waiting contact keeps its place as a request. The record once it is one (also
        when it was one already), None when it waits in no queue."""
        current = self._view.contacts.get((tenant, contact_id))
        if current is not None and current.closed_action == "callback":
            return current
        text = request_text(current.contact.channel) if current is not None else REQUEST_TEXT
        try:
            return await convert_to_callback(
                self._records, self._events, tenant, contact_id, text, number_known=True
            )
        except NotInAcd:
            return None

    def open_requests(self, tenant: str) -> list[CallbackState]:
        """The tenant's call-back requests not over yet (scheduled, placed), from the working set."""
        return open_requests(
            record for (owner, _), record in list(self._view.contacts.items()) if owner == tenant
        )

    async def cancel(self, tenant: str, contact_id: str, *, by: str) -> ContactRecord:
        """Take the call-back request out of the ACD; NotCancellable when it is none that still
        waits (the message says why)."""
        check_cancellable(self._view.contacts.get((tenant, contact_id)), contact_id)
        record = await self._close(tenant, contact_id)
        if record.status is not ContactStatus.CLOSED:
            raise NotCancellable(f"contact {contact_id} could not be closed ({record.status.value})")
        await self._announce_cancel(Cancelled(tenant, record, by))
        return record
