"""Provider delivery reports over fakes: a `sent` is indexed, later reports land on the contact
once, and a report for an id that is not ours publishes nothing."""

from __future__ import annotations

from fakes.gateway_fakes import REGION, FakeEvents, FakeReceipts

from ccmesh.envelope import new_event
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.delivery_receipts import index_sent, record_provider_status

WHATSAPP = common_pb2.CHANNEL_KIND_WHATSAPP


def sent(provider_message_id: str = "wamid.1") -> events_pb2.Event:
    return new_event(
        events_pb2.MessageStatusChanged(
            message_id="m1",
            channel=WHATSAPP,
            status="sent",
            provider="whatsapp_cloud",
            provider_message_id=provider_message_id,
        ),
        tenant_id="acme",
        brand_id="acme-retail",
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id="m1.sent",
    )


async def report(
    receipts: FakeReceipts, events: FakeEvents, status: str, provider_id: str = "wamid.1"
) -> bool:
    return await record_provider_status(
        region=REGION,
        tenant_id="acme",
        provider="whatsapp_cloud",
        channel=WHATSAPP,
        provider_message_id=provider_id,
        status=status,
        reason="",
        receipts=receipts,
        events=events,
    )


async def test_a_later_report_lands_on_the_contact_of_our_message_once() -> None:
    receipts, events = FakeReceipts(), FakeEvents()
    await index_sent(sent(), receipts)
    assert await report(receipts, events, "delivered")
    assert await report(receipts, events, "delivered")  # the provider retried its webhook
    ((event),) = events.published
    change = event.message_status_changed
    assert (event.contact_id, change.message_id, change.status) == ("c1", "m1", "delivered")
    assert event.tenant.brand_id == "acme-retail"


async def test_reports_for_ids_that_are_not_ours_or_unknown_statuses_publish_nothing() -> None:
    receipts, events = FakeReceipts(), FakeEvents()
    await index_sent(sent(), receipts)
    assert not await report(receipts, events, "delivered", provider_id="wamid.other")
    assert not await report(receipts, events, "deleted")
    assert events.published == []


async def test_only_sent_statuses_with_a_provider_id_are_indexed() -> None:
    receipts = FakeReceipts()
    await index_sent(sent(provider_message_id=""), receipts)
    assert receipts.known == {}
