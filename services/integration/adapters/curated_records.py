"""Curated contact records on the region's event stream: business systems subscribe to them.

When the analytics store finishes a contact it is published as a `ContactRecord` event (the
PII-minimised view of `domain/curated_contact.py`) on the region's own stream, subject
`cc.events.<region>.<tenant>.contact_record.<contact>`: a system in the region reads its tenant's
records from that subject, and a webhook subscription with `eventTypes: [contact_record]`
delivers them over HTTPS like any event. The event id is fixed by the contact, so a record
published again (a batch redelivered before its commit) is dropped by the stream as a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

from ccmesh.channels import parse, to_kind
from ccmesh.envelope import new_event, stable_event_id, timestamp_at
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.domain.analytics_facts import ContactFact
from integration.domain.curated_contact import curated

SOURCE = "integration-analytics"
#: The event type (and subject token) of a curated record.
RECORD_TYPE = "contact_record"


def contact_record_event(fact: ContactFact, region: str) -> events_pb2.Event:
    fields = curated(fact)
    fields["channel"] = to_kind(parse(fact.channel)) if fact.channel else common_pb2.CHANNEL_KIND_UNSPECIFIED
    return new_event(
        events_pb2.ContactRecord(**fields),
        tenant_id=fact.tenant_id,
        region=region,
        source=SOURCE,
        contact_id=fact.contact_id,
        brand_id=fact.brand,
        event_id=stable_event_id(RECORD_TYPE, fact.tenant_id, fact.contact_id),
        occurred_at=timestamp_at(fact.closed_at or fact.created_at),
    )


class ContactRecords:
    """Publishes the finished contacts' records; raises when the stream did not take them all."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, facts: Sequence[ContactFact]) -> None:
        if facts:
            region = self._publisher.region
            await self._publisher.publish_all([contact_record_event(fact, region) for fact in facts])
