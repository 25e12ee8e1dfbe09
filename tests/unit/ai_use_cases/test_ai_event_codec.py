"""The ai service's domain events become the same protobuf `Event`s as the service always
published: same payload fields, same ids (what de-duplication depends on), same header."""

from __future__ import annotations

import pytest
from fakes.ai_fakes import REGION, TENANT

from ai.adapters.event_codec import StreamEvents, to_protobuf
from ai.domain.events import AiEvent, InsightFound, TicketDrafted
from ai.domain.ticket import Ticket
from ccmesh.channels import Channel
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2


def insight(channel: Channel | None = Channel.WHATSAPP) -> InsightFound:
    return InsightFound(
        tenant_id=TENANT,
        contact_id="c1",
        brand_id="acme-retail",
        message_id="m1",
        channel=channel,
        language="es",
        language_confidence=0.75,
        language_reliable=True,
        intent="refund",
        intent_score=0.8,
        sentiment=-0.5,
        sentiment_trend=-0.25,
        entity_kinds=("email", "phone"),
        redacted_text="mail me at <EMAIL>",
        escalation_score=0.4,
        escalation_reasons=("negative sentiment", "repeat contact"),
        pipeline="default",
    )


def expected_header(event_id: str, brand_id: str, found: events_pb2.Event) -> events_pb2.Event:
    expected = events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id=TENANT, brand_id=brand_id),
        region=REGION,
        contact_id="c1",
        source="ai",
        schema_version=1,
    )
    # The time is the moment of encoding: taken from the result, checked to be set.
    assert found.occurred_at.seconds > 0
    expected.occurred_at.CopyFrom(found.occurred_at)
    return expected


def test_an_insight_is_the_ai_insight_event_named_by_its_message() -> None:
    found = to_protobuf(insight(), REGION)
    expected = expected_header("ai-insight-m1", "acme-retail", found)
    expected.ai_insight.CopyFrom(
        events_pb2.AiInsight(
            message_id="m1",
            language="es",
            intent="refund",
            intent_score=0.8,
            sentiment=-0.5,
            sentiment_trend=-0.25,
            entity_kinds=["email", "phone"],
            redacted_text="mail me at <EMAIL>",
            escalation_score=0.4,
            escalation_reasons=["negative sentiment", "repeat contact"],
            pipeline="default",
            channel=common_pb2.CHANNEL_KIND_WHATSAPP,
            language_confidence=0.75,
            language_reliable=True,
        )
    )
    assert found == expected


def test_an_insight_of_a_message_without_channel_says_unspecified() -> None:
    found = to_protobuf(insight(channel=None), REGION)
    assert found.ai_insight.channel == common_pb2.CHANNEL_KIND_UNSPECIFIED


def test_a_drafted_ticket_is_the_ai_ticket_event_named_by_contact_and_draft() -> None:
    ticket = Ticket(
        title="Refund: my blender broke",
        category="refund",
        priority="high",
        summary="Customer wants a refund.",
        entity_kinds=("email",),
        customer_ref="cust-7",
    )
    found = to_protobuf(TicketDrafted(TENANT, "c1", ticket, "0a1b2c3d"), REGION)
    # Tickets carry no brand: the wrap-up call names only the tenant.
    expected = expected_header("ai-ticket-c1-0a1b2c3d", "", found)
    expected.ai_ticket.CopyFrom(
        events_pb2.AiTicket(
            title="Refund: my blender broke",
            category="refund",
            priority="high",
            summary="Customer wants a refund.",
            entity_kinds=["email"],
            customer_ref="cust-7",
        )
    )
    assert found == expected


def test_an_event_the_codec_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no protobuf event for AiEvent"):
        to_protobuf(AiEvent(TENANT, "c1"), REGION)


class RecordingStream:
    """The runtime's `EventPublisher` surface the adapter uses: its region and `publish`."""

    region = REGION

    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []

    async def publish(self, event: events_pb2.Event) -> None:
        self.published.append(event)


async def test_the_stream_publisher_encodes_for_its_region() -> None:
    stream = RecordingStream()
    await StreamEvents(stream).publish(insight())  # type: ignore[arg-type]
    (published,) = stream.published
    assert (published.region, published.event_id) == (REGION, "ai-insight-m1")
