"""Queues and contacts entering them: configuring a queue, enqueueing a contact."""

from __future__ import annotations

from dataclasses import replace

from routing.domain import contacts as contact_rules
from routing.domain.agents import AcdInputError
from routing.domain.brand_sharing import open_to_all_brands
from routing.domain.callbacks import request_text
from routing.domain.closed_actions import when_closed
from routing.domain.contacts import ContactRecord
from routing.domain.events import CallbackScheduled, ContactQueued, ContactTurnedAway, RoutingEvent
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd_context import AcdContext


class Enqueueing:
    def __init__(self, context: AcdContext) -> None:
        self._ctx = context

    async def configure_queue(self, queue: QueueSpec) -> None:
        """Store the queue (replacing it). Its closed action must name a known queue of the
        tenant (not itself) or a known region; whether agents of every brand serve it follows
        the tenant's `brandSharing` unless the queue narrows it."""
        ctx = self._ctx
        hours = queue.hours
        if hours is not None and hours.closed_action == "queue":
            region = hours.closed_target_region
            known_regions = ctx.directory.known_regions() | {ctx.settings.region}
            if region and region not in known_regions:
                raise AcdInputError(
                    "hours.closed_target_region",
                    f"unknown region {region!r}; known regions: {sorted(r for r in known_regions if r)}",
                )
            if not region or region == ctx.settings.region:
                target = hours.closed_target_queue
                if target == queue.name:
                    raise AcdInputError(
                        "hours.closed_target_queue", f"queue {target!r} cannot take its own contacts"
                    )
                if await ctx.queue(queue.tenant, target) is None:
                    raise AcdInputError(
                        "hours.closed_target_queue", f"unknown queue {target!r} for tenant {queue.tenant!r}"
                    )
        queue = replace(
            queue,
            all_brands=open_to_all_brands(queue.brand_sharing, ctx.directory.brand_sharing(queue.tenant)),
        )
        await self._ctx.store.put_queue(queue)
        # Seen by this instance at once (the watch brings the same value a moment later).
        self._ctx.mirror.queues[(queue.tenant, queue.name)] = queue

    async def enqueue(
        self, tenant: str, contact: WaitingContact, *, announced: bool = False, callback: bool = False
    ) -> ContactRecord:
        """Put a contact in its queue; a repeated enqueue of a known contact changes nothing.

        `announced`: the contact came as a ContactQueued hand-off event, which already tells
        every consumer where it waits; the ACD announces it again only when it waits elsewhere
        (a closed queue's target), so each hand-off is one event on the stream, not two.

        Outside the queue's hours its closed action applies (`closed_actions`): another queue
        takes the contact (here, or through the routing pass's hand-over to another region); the
        customer is told the queue is closed and the contact leaves (`message`; the record is
        closed, `closed_action` "message"); or the contact waits in the queue as a call-back
        request (`callback`). None of them is an error: a closed queue is business as usual.

        `callback`: the customer asked to be called back before joining (a deflected customer's
        CALL ME): the contact waits as a call-back request from the start and is told so.
        """
        ctx = self._ctx
        requested_queue = contact.queue
        queue = await ctx.known_queue(tenant, contact.queue)
        closed = when_closed(queue, ctx.now_utc(), ctx.settings.region)
        if closed is not None and closed.action == "queue" and not closed.hands_over:
            if closed.queue == contact.queue or await ctx.queue(tenant, closed.queue) is None:
                raise AcdInputError(
                    "queue", f"queue {queue.name!r} is closed and its target {closed.queue!r} is unknown"
                )
            contact = replace(contact, queue=closed.queue)
        ctx.check_skills(tenant, contact.required_skills)
        created: list[bool] = []
        now = ctx.now()

        def change(old: ContactRecord | None) -> ContactRecord:
            created.append(old is None)
            if old is not None:
                return old
            if closed is not None and closed.action == "message":
                return contact_rules.turn_away(contact, now)
            if callback or (closed is not None and closed.action == "callback"):
                return contact_rules.call_back_later(contact)
            return ContactRecord(contact)

        # What the write's last try staged, published as those same objects.
        staged: list[RoutingEvent] = []

        def announce(old: ContactRecord | None, new: ContactRecord) -> list[RoutingEvent]:
            staged.clear()
            if old is not None:
                return []  # a repeated enqueue: announced by the first one
            staged.extend(enqueue_events(tenant, new, scheduled_text, announced, requested_queue))
            return list(staged)

        scheduled_text = closed.text if closed is not None else None
        if callback and closed is None:
            scheduled_text = request_text(contact.channel)
        # The record and what announces it are one write: a crash before the events below are
        # published delays them by a sweep (`ccmesh.outbox`) instead of losing them.
        record = await ctx.store.update_contact(tenant, contact.contact_id, change, announce=announce)
        if not created[-1]:
            return record
        if not staged or any(event.record is not record for event in staged):
            staged[:] = enqueue_events(tenant, record, scheduled_text, announced, requested_queue)
        for event in staged:
            await ctx.events(event)
        return record


def enqueue_events(
    tenant: str, record: ContactRecord, closed_text: str | None, announced: bool, requested_queue: str
) -> list[RoutingEvent]:
    """What announces a contact entering routing (`closed_text`: the closed queue's message, None
    when the queue is open): turned away, or queued (unless its hand-off event already said where
    it waits) and perhaps scheduled for a call back."""
    if record.closed_action == "message" and closed_text is not None:
        return [ContactTurnedAway(tenant, record, closed_text)]
    events: list[RoutingEvent] = []
    if not announced or record.contact.queue != requested_queue:
        events.append(ContactQueued(tenant, record))
    if record.closed_action == "callback" and closed_text is not None:
        events.append(CallbackScheduled(tenant, record, closed_text))
    return events
