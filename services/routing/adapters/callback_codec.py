"""What a cancelled call-back request announces on the region's stream: CallbackCancelled, the
customer's confirmation on their channel (MessageSent, sent by the gateway's outbound side), and
ContactClosed (outcome `callback_cancelled`, closed by "customer" or "api")."""

from __future__ import annotations

from ccmesh import channels
from ccmesh.envelope import new_event, stable_event_id
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.domain.callbacks import CANCELLED_OUTCOME, CANCELLED_TEXT, Cancelled

SOURCE = "routing-callbacks"


def cancel_events(cancelled: Cancelled, region: str) -> list[events_pb2.Event]:
    """The events of one cancel; their ids are fixed by the contact, so a repeat is dropped."""
    tenant, contact = cancelled.tenant, cancelled.record.contact
    kind = channels.to_kind(contact.channel)
    cancel_id = stable_event_id("callback", tenant, contact.contact_id, "cancelled")
    message_id = stable_event_id("callback", tenant, contact.contact_id, "cancelled", "message")
    return [
        new_event(
            events_pb2.CallbackCancelled(
                queue=contact.queue,
                by=cancelled.by,
                channel=kind if cancelled.by == "customer" else common_pb2.CHANNEL_KIND_UNSPECIFIED,  # type: ignore[arg-type]
            ),
            tenant_id=tenant,
            region=region,
            source=SOURCE,
            contact_id=contact.contact_id,
            event_id=cancel_id,
        ),
        new_event(
            events_pb2.MessageSent(
                message_id=message_id,
                channel=kind,  # type: ignore[arg-type]
                text=CANCELLED_TEXT,
                sender="bot:routing",
            ),
            tenant_id=tenant,
            region=region,
            source=SOURCE,
            contact_id=contact.contact_id,
            event_id=message_id,
        ),
        # The contact is over (the ACD closed it): for every reader of the stream, as any close.
        new_event(
            events_pb2.ContactClosed(outcome=CANCELLED_OUTCOME, closed_by=cancelled.by),
            tenant_id=tenant,
            region=region,
            source=SOURCE,
            contact_id=contact.contact_id,
            event_id=stable_event_id("callback", tenant, contact.contact_id, "closed"),
        ),
    ]
