"""The ACD on the event stream: takes journeys' ContactQueued hand-offs, publishes its changes."""

from __future__ import annotations

import uuid

from google.protobuf import timestamp_pb2

from ccmesh.configplane.models import ContactCenter
from ccmesh.events import EventHandler, PermanentError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.domain.agents import AcdInputError, Channel
from routing.domain.contacts import ContactRecord
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import WaitingContact
from routing.service_layer.acd import AcdService

#: `source` of the events the ACD publishes; its own re-queue events are not taken back in.
ACD_SOURCE = "routing-acd"


def acd_event(
    region: str, kind: str, tenant: str, record: ContactRecord, detail: str
) -> events_pb2.Event | None:
    """The event for one ACD change; None for changes with no event payload of their own."""
    contact = record.contact
    occurred = timestamp_pb2.Timestamp()
    occurred.GetCurrentTime()
    # Fixed per change (reservation or offer count), so a retried publish is dropped as a duplicate.
    identity = (
        f"acd/{tenant}/{contact.contact_id}/{kind}/{contact.queue}/{record.reservation_id or record.offers}"
    )
    event = events_pb2.Event(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, identity)),
        occurred_at=occurred,
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        region=region,
        contact_id=contact.contact_id,
        source=ACD_SOURCE,
        schema_version=1,
    )
    if kind in ("queued", "declined", "timeout", "offline"):
        event.contact_queued.CopyFrom(
            events_pb2.ContactQueued(queue=contact.queue, priority=contact.priority)
        )
    elif kind == "offered":
        event.contact_offered.CopyFrom(
            events_pb2.ContactOffered(
                queue=contact.queue, agent_id=record.agent_id, reservation_id=record.reservation_id
            )
        )
    elif kind == "accepted":
        event.contact_accepted.CopyFrom(
            events_pb2.ContactAccepted(
                queue=contact.queue, agent_id=record.agent_id, reservation_id=record.reservation_id
            )
        )
    elif kind == "overflow":
        from_queue, _, reason = detail.partition("\t")
        event.contact_transferred.CopyFrom(
            events_pb2.ContactTransferred(from_queue=from_queue, to_queue=contact.queue, reason=reason)
        )
    elif kind == "closed":
        event.contact_closed.CopyFrom(events_pb2.ContactClosed(outcome=detail, closed_by=record.agent_id))
    else:
        return None
    return event


def overflow_rules_of(document: ContactCenter | None) -> dict[tuple[str, str], list[OverflowRule]]:
    """The region's overflow rules from its ContactCenter, by (tenant, queue)."""
    rules: dict[tuple[str, str], list[OverflowRule]] = {}
    for rule in document.spec.routing.overflow if document is not None else []:
        rules.setdefault((rule.tenant, rule.queue), []).append(
            OverflowRule(
                rule.name,
                rule.queue,
                rule.target_queue,
                rule.target_region or "",
                rule.target_brand,
                rule.action,
                rule.wait_seconds_over,
                rule.depth_over,
                rule.predicted_service_level_under,
            )
        )
    return rules


def queued_handler(acd: AcdService) -> EventHandler:
    """Consumer handler: a journey's hand-off becomes a waiting contact (same use case as the RPC)."""

    async def handle(event: events_pb2.Event) -> None:
        if event.source == ACD_SOURCE or event.WhichOneof("payload") != "contact_queued":
            return
        queued = event.contact_queued
        try:
            contact = WaitingContact(
                event.contact_id,
                queued.queue,
                # The hand-off carries no channel yet; journeys route messaging-style contacts.
                Channel.CHAT,
                min(99, max(1, queued.priority or 50)),
                acd.now(),
            )
            await acd.enqueue(event.tenant.tenant_id, contact)
        except AcdInputError as error:
            raise PermanentError(str(error)) from error

    return handle
