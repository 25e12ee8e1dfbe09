"""The integration service's domain events become the same protobuf `Event`s as the service
always published: same payloads, same ids fixed by the action (what de-duplication depends on)."""

from __future__ import annotations

import pytest
from fakes.integration_fakes import REGION, TENANT

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.adapters.event_codec import StreamEvents, to_protobuf
from integration.domain.events import ContactClosedByAction, IntegrationEvent, TaskCreated


def expected_header(event_id: str, contact_id: str, found: events_pb2.Event) -> events_pb2.Event:
    expected = events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id=TENANT),
        region=REGION,
        contact_id=contact_id,
        source="integration",
        schema_version=1,
    )
    assert found.occurred_at.seconds > 0  # the moment of encoding
    expected.occurred_at.CopyFrom(found.occurred_at)
    return expected


def test_a_created_task_is_a_task_contact_created_by_the_integration_entry_point() -> None:
    found = to_protobuf(TaskCreated(TENANT, "task0123", "a1b2"), REGION)
    expected = expected_header("a1b2-created", "task0123", found)
    expected.contact_created.CopyFrom(
        events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_TASK, entry_point="integration")
    )
    assert found == expected


def test_a_closing_action_is_contact_closed_by_the_integration_caller() -> None:
    found = to_protobuf(ContactClosedByAction(TENANT, "c1", "a1b2", "resolved", "crm-bot"), REGION)
    expected = expected_header("a1b2-closed", "c1", found)
    expected.contact_closed.CopyFrom(
        events_pb2.ContactClosed(outcome="resolved", closed_by="integration:crm-bot")
    )
    assert found == expected


def test_an_event_the_codec_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="no protobuf event for IntegrationEvent"):
        to_protobuf(IntegrationEvent(TENANT, "c1", "a1"), REGION)


class RecordingStream:
    region = REGION

    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []

    async def publish(self, event: events_pb2.Event) -> None:
        self.published.append(event)


async def test_the_stream_publisher_encodes_for_its_region() -> None:
    stream = RecordingStream()
    await StreamEvents(stream).publish(TaskCreated(TENANT, "task0123", "a1b2"))  # type: ignore[arg-type]
    (published,) = stream.published
    assert (published.region, published.event_id) == (REGION, "a1b2-created")
