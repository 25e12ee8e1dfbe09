"""ConsentChanged on the region's event stream, one per consent record."""

from __future__ import annotations

from ccmesh.envelope import new_event, stable_event_id
from ccmesh.events import EventPublisher
from contactcenter.events.v1 import events_pb2
from identity.domain.consent import ConsentRecord


def consent_event(tenant_id: str, brand_id: str, region: str, record: ConsentRecord) -> events_pb2.Event:
    return new_event(
        events_pb2.ConsentChanged(
            customer_id=record.customer_id,
            purpose=record.purpose,
            granted=record.granted,
            channel=record.channel,  # type: ignore[arg-type]
            policy_version=record.policy_version,
            source=record.source,
            record_id=record.record_id,
        ),
        tenant_id=tenant_id,
        brand_id=brand_id,
        region=region,
        source="identity",
        # Without a contact, the customer's consent subject: the subject's last token is never empty.
        contact_id=record.contact_id or f"consent-{record.customer_id}",
        event_id=stable_event_id("consent", tenant_id, record.record_id),
    )


class ConsentEvents:
    def __init__(self, events: EventPublisher, region: str) -> None:
        self._events = events
        self._region = region

    async def changed(self, tenant_id: str, brand_id: str, record: ConsentRecord) -> None:
        await self._events.publish(consent_event(tenant_id, brand_id, self._region, record))
