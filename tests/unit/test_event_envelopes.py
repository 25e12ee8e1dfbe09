"""Events built through `ccmesh.envelope`: every producer fills the same header, and the ids
that de-duplication depends on are the ones they always were."""

from __future__ import annotations

import functools
import uuid

import pytest
from fakes.gateway_fakes import REGION, FakeContacts, FakeEvents, FakeIdentity, sms

from ai.domain.component import Insights
from ai.entrypoints.convert import insight_event
from ai.service_layer.analysis import Analysis
from ccmesh.envelope import SCHEMA_VERSION, new_event, stable_event_id, timestamp_at
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.accept_inbound import accept_inbound


def assert_header(event: events_pb2.Event, *, source: str, tenant: str, brand: str, contact: str) -> None:
    assert (event.source, event.schema_version) == (source, SCHEMA_VERSION)
    assert (event.tenant.tenant_id, event.tenant.brand_id) == (tenant, brand)
    assert (event.region, event.contact_id) == (REGION, contact)
    assert event.occurred_at.seconds > 0 and event.event_id


async def test_inbound_events_keep_their_ids_and_carry_the_full_header() -> None:
    events = FakeEvents()
    accept = functools.partial(
        accept_inbound, region=REGION, store=FakeContacts(), identity=FakeIdentity(), events=events
    )
    accepted, _ = await accept(sms("SM1", brand_id="acme-retail"))
    created, received = events.published
    assert created.event_id == f"{accepted.contact_id}.created"
    assert received.event_id == received.message_received.message_id == accepted.message_id
    for event in (created, received):
        assert_header(
            event, source="gateway", tenant="acme", brand="acme-retail", contact=accepted.contact_id
        )


def test_an_insight_takes_its_id_from_the_message_so_a_redelivery_is_dropped() -> None:
    received = new_event(
        events_pb2.MessageReceived(message_id="m1", text="hi", channel=common_pb2.CHANNEL_KIND_SMS),
        tenant_id="acme",
        brand_id="acme-retail",
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id="m1",
    )
    analysis = Analysis(
        pipeline="default",
        components=["language"],
        insights=Insights(tenant_id="acme", text="hi", language="en"),
        sentiment_trend=0.0,
    )
    first, again = insight_event(received, "m1", analysis), insight_event(received, "m1", analysis)
    assert first.event_id == again.event_id == "ai-insight-m1"
    assert first.WhichOneof("payload") == "ai_insight" and first.ai_insight.language == "en"
    assert_header(first, source="ai", tenant="acme", brand="acme-retail", contact="c1")


def test_a_stable_id_is_the_uuid5_of_its_parts_as_the_web_chat_call_back_always_had() -> None:
    parts = ("webchat", "acme", "visitor-1", "request-1")
    assert stable_event_id(*parts) == str(uuid.uuid5(uuid.NAMESPACE_URL, "webchat/acme/visitor-1/request-1"))


def test_the_envelope_refuses_a_payload_that_is_no_event_and_keeps_a_given_time() -> None:
    with pytest.raises(TypeError, match="is not an event payload"):
        new_event(common_pb2.TenantRef(tenant_id="acme"), tenant_id="acme", region=REGION, source="x")
    event = new_event(
        events_pb2.ContactQueued(queue="support"),
        tenant_id="acme",
        region=REGION,
        source="x",
        occurred_at=timestamp_at(1_700_000_000.5),
    )
    assert (event.occurred_at.seconds, event.occurred_at.nanos) == (1_700_000_000, 500_000_000)
    assert len(event.event_id) == 32  # a random id when none is fixed by the fact
