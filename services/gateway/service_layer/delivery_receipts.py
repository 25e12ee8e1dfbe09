"""Provider delivery reports for our outbound messages, on the contact's history.

The outbound consumer publishes `MessageStatusChanged(sent)` with the provider's message id
once a provider took a message; `index_sent` remembers which contact and message that id
names. A provider's later report (WhatsApp's `statuses[]`: delivered, read, failed with its
error) then becomes a `MessageStatusChanged` on that contact. Event ids derive from our message
id and the status, so a provider's retried webhook publishes nothing twice.
"""

from __future__ import annotations

from contactcenter.events.v1 import events_pb2
from gateway.adapters.provider_receipts import Receipt
from gateway.domain.events import MessageStatusChanged
from gateway.service_layer.ports import GatewayEvents, SentReceipts

#: Statuses a provider reports after `sent` (ours): anything else is not a delivery report.
REPORTED_STATUSES = frozenset({"sent", "delivered", "read", "failed"})


async def index_sent(event: events_pb2.Event, receipts: SentReceipts) -> None:
    change = event.message_status_changed
    if event.WhichOneof("payload") != "message_status_changed" or change.status != "sent":
        return
    if not change.provider_message_id:
        return
    await receipts.remember(
        event.tenant.tenant_id,
        change.provider,
        change.provider_message_id,
        Receipt(contact_id=event.contact_id, message_id=change.message_id, brand_id=event.tenant.brand_id),
    )


async def record_provider_status(
    *,
    region: str,
    tenant_id: str,
    provider: str,
    channel: int,
    provider_message_id: str,
    status: str,
    reason: str,
    receipts: SentReceipts,
    events: GatewayEvents,
) -> bool:
    """Publish the provider's report on our message's contact; False when the id is not ours."""
    if status not in REPORTED_STATUSES:
        return False
    receipt = await receipts.find(tenant_id, provider, provider_message_id)
    if receipt is None:
        return False
    await events.publish(
        MessageStatusChanged(
            tenant_id=tenant_id,
            brand_id=receipt.brand_id,
            contact_id=receipt.contact_id,
            region=region,
            # `sent` is already on the stream from the outbound consumer under its own id.
            event_id=f"{receipt.message_id}.{provider}.{status}",
            message_id=receipt.message_id,
            channel=channel,
            status=status,
            provider=provider,
            provider_message_id=provider_message_id,
            reason=reason,
        )
    )
    return True
