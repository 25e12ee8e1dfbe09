"""A contact's events read back from the region's stream with direct gets, on a real nats-server:
the contact's events in stream order, each event id once, nothing of another contact or tenant,
nothing the retention removed, no consumer left behind, and clear errors for bad input."""

from __future__ import annotations

import pytest
from _mesh import REGION, eventually
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.contact_history import (
    BATCH,
    HistoryReadError,
    contact_history,
    first_event_of_kind,
)
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.retention import Limits, RetentionPolicy
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(60)

STREAM = naming.events_stream(REGION).name


def created(tenant: str, contact: str, entry_point: str = "+15550100") -> events_pb2.Event:
    return new_event(
        events_pb2.ContactCreated(entry_point=entry_point),
        tenant_id=tenant,
        region=REGION,
        source="tests",
        contact_id=contact,
    )


def received(tenant: str, contact: str, text: str) -> events_pb2.Event:
    return new_event(
        events_pb2.MessageReceived(text=text),
        tenant_id=tenant,
        region=REGION,
        source="tests",
        contact_id=contact,
    )


async def test_a_history_is_the_contacts_events_in_order_each_once_and_nothing_else(
    js: JetStreamContext,
) -> None:
    publisher = EventPublisher(js, REGION)
    mine = [created("acme", "c-1"), *(received("acme", "c-1", f"hello {n}") for n in range(5))]
    # Another contact of the tenant, and the same contact id under another tenant, interleaved.
    others = [created("acme", "c-2"), received("globex", "c-1", "not yours"), created("globex", "c-1")]
    for event, other in zip(mine, [*others, *others], strict=False):
        await publisher.publish(event)
        await publisher.publish(other)
    # The same event published again after the stream's duplicate window (a new message id).
    await js.publish(
        naming.event_subject(REGION, "acme", "message_received", "c-1"),
        mine[1].SerializeToString(),
        headers={"Nats-Msg-Id": "republished-later"},
    )
    # A foreign message on the contact's subjects is skipped, not fatal.
    await js.publish(naming.event_subject(REGION, "acme", "message_received", "c-1"), b"\xff not an event")

    history = await contact_history(js, REGION, "acme", "c-1")

    assert [event.event_id for event in history] == [event.event_id for event in mine]
    assert history[1].message_received.text == "hello 0"
    assert [event.event_id for event in await contact_history(js, REGION, "globex", "c-1")] == [
        others[1].event_id,
        others[2].event_id,
    ]
    assert await contact_history(js, REGION, "acme", "c-unknown") == []
    # No consumer was created (nor left behind) to read them.
    assert (await js.stream_info(STREAM)).state.consumer_count == 0


async def test_a_long_history_is_read_whole_across_batches_and_limited_to_its_first_events(
    js: JetStreamContext,
) -> None:
    publisher = EventPublisher(js, REGION)
    count = BATCH * 2 + 7
    events = [received("acme", "c-long", f"m{n}") for n in range(count)]
    await (await publisher.send(events))

    history = await contact_history(js, REGION, "acme", "c-long")
    first = await contact_history(js, REGION, "acme", "c-long", limit=BATCH + 3)

    assert [event.event_id for event in history] == [event.event_id for event in events]
    assert [event.event_id for event in first] == [event.event_id for event in events[: BATCH + 3]]


async def test_the_opening_event_is_read_alone_per_tenant(js: JetStreamContext) -> None:
    publisher = EventPublisher(js, REGION)
    await publisher.publish(received("acme", "c-1", "before it opened"))
    opening = created("acme", "c-1", "+15550111")
    await publisher.publish(opening)
    await publisher.publish(created("globex", "c-2", "+15550199"))
    await publisher.publish(created("acme", "c-1", "+15550122"))  # a second one: the first counts

    found = await first_event_of_kind(js, REGION, "acme", "c-1", "contact_created")

    assert found is not None
    assert found.event_id == opening.event_id
    assert found.contact_created.entry_point == "+15550111"
    # Another tenant's contact is not found under this tenant.
    assert await first_event_of_kind(js, REGION, "acme", "c-2", "contact_created") is None
    assert await first_event_of_kind(js, REGION, "acme", "c-1", "contact_closed") is None


async def test_events_the_retention_removed_are_not_in_a_history(nc: NATS) -> None:
    js = nc.jetstream()
    short = RetentionPolicy({"events": Limits(max_age_seconds=1)})
    await ensure_region_streams(js, REGION, StreamSettings(), short)
    publisher = EventPublisher(js, REGION)
    expired = [created("acme", "c-1"), received("acme", "c-1", "old")]
    for event in expired:
        await publisher.publish(event)

    async def gone() -> bool:
        return (await js.stream_info(STREAM)).state.messages == 0

    await eventually(gone)
    kept = received("acme", "c-1", "new")
    await publisher.publish(kept)

    assert [event.event_id for event in await contact_history(js, REGION, "acme", "c-1")] == [kept.event_id]
    assert await first_event_of_kind(js, REGION, "acme", "c-1", "contact_created") is None


async def test_a_stream_created_without_direct_reads_fails_clearly_until_the_region_updates_it(
    nc: NATS,
) -> None:
    js = nc.jetstream()
    # The events stream as releases before direct reads created it.
    await js.add_stream(StreamConfig(name=STREAM, subjects=list(naming.events_stream(REGION).subjects)))
    event = created("acme", "c-1")
    await EventPublisher(js, REGION).publish(event)

    with pytest.raises(HistoryReadError, match="allow_direct"):
        await contact_history(js, REGION, "acme", "c-1")
    with pytest.raises(HistoryReadError, match="allow_direct"):
        await first_event_of_kind(js, REGION, "acme", "c-1", "contact_created")

    await ensure_region_streams(js, REGION, StreamSettings())

    assert (await js.stream_info(STREAM)).config.allow_direct
    assert [found.event_id for found in await contact_history(js, REGION, "acme", "c-1")] == [event.event_id]


@pytest.mark.parametrize(
    ("tenant", "contact", "field"),
    [
        ("acme", "*", "contact_id"),
        ("acme", "c.1", "contact_id"),
        ("*", "c-1", "tenant_id"),
        ("acme", "", "contact_id"),
    ],
)
async def test_ids_that_would_widen_the_read_are_refused(
    js: JetStreamContext, tenant: str, contact: str, field: str
) -> None:
    await EventPublisher(js, REGION).publish(created("globex", "c-1"))
    with pytest.raises(ValueError, match=field):
        await contact_history(js, REGION, tenant, contact)
    with pytest.raises(ValueError, match=field):
        await first_event_of_kind(js, REGION, tenant, contact, "contact_created")


async def test_an_unknown_event_kind_is_refused(js: JetStreamContext) -> None:
    with pytest.raises(ValueError, match="unknown event kind 'contact_opened'"):
        await first_event_of_kind(js, REGION, "acme", "c-1", "contact_opened")
