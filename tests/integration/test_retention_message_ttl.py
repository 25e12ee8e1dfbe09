"""Data classes sharing the event stream expire on their own, shorter, schedule on a real
nats-server: transcripts and messages set in `spec.retention.dataClasses` go within their time
to live plus 5 s (published directly and through an outbox), while the contact events beside
them stay for the stream's maximum age; the report says so per class."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from _platform import REGION, eu_contact_center, eventually
from nats.aio.client import Client as NATS

from ccctl.main import main
from ccmesh import naming, retention_ttl
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.outbox import entry_of_event, js_publisher
from ccmesh.retention import DEFAULT_POLICY
from ccmesh.stores import RegionStores
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(60)

TRANSCRIPT_TTL, MESSAGE_TTL = 2, 3
GRACE = 5


@pytest.fixture
async def ttls_applied() -> AsyncIterator[None]:
    yield
    # The TTLs are this process's: later tests must publish without them.
    retention_ttl.apply(REGION, DEFAULT_POLICY)


def with_class_ttls() -> ContactCenter:
    raw = eu_contact_center().model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = {
        "events": {"maxAgeSeconds": 3600},
        "dataClasses": {
            "transcripts": {"maxAgeSeconds": TRANSCRIPT_TTL},
            "messages": {"maxAgeSeconds": MESSAGE_TTL},
        },
    }
    return ContactCenter.model_validate(raw)


def event(payload: Any, contact_id: str) -> events_pb2.Event:
    return new_event(payload, tenant_id="acme", region=REGION, source="test", contact_id=contact_id)


async def subjects_stored(nc: NATS) -> list[str]:
    stream = naming.events_stream(REGION).name
    info = await nc.jetstream().stream_info(stream, subjects_filter=">")
    return sorted(subject for subject, count in (info.state.subjects or {}).items() if count)


async def test_transcripts_and_messages_expire_by_their_own_ttl_and_contact_events_stay(
    nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str], ttls_applied: None
) -> None:
    js = nc.jetstream()
    document = with_class_ttls()
    await (await ConfigStore.open(js)).apply(document)
    await RegionStores(js, REGION).apply(document.spec.retention.policy())

    publisher = EventPublisher(js, REGION)
    await publisher.publish_all(
        [
            event(events_pb2.ContactCreated(customer_id="cust-1"), "c1"),
            event(events_pb2.TranscriptSegment(stream_id="MZ1", track="caller", text="my card is"), "c1"),
        ]
    )
    # A message announced through an outbox (as the gateway does) carries its TTL too.
    await js_publisher(js)(
        entry_of_event(event(events_pb2.MessageReceived(message_id="m1", text="hi"), "c1"), REGION, at=0.0)
    )
    prefix = f"{naming.EVENT_PREFIX}.{REGION}.acme"
    assert await subjects_stored(nc) == [
        f"{prefix}.contact_created.c1",
        f"{prefix}.message_received.c1",
        f"{prefix}.transcript_segment.c1",
    ]

    capsys.readouterr()
    args = ["retention", "report", "--region", REGION, "-o", "json", "--nats-url", nats_url]
    assert await asyncio.to_thread(main, args) == 0
    rows = {row["name"]: row for row in orjson.loads(capsys.readouterr().out)["dataClasses"]}
    assert (rows["transcripts"]["enforcement"], rows["transcripts"]["keptSeconds"]) == ("message-ttl", 2)
    assert rows["transcripts"]["setting"] == "spec.retention.dataClasses.transcripts.maxAgeSeconds"
    assert (rows["messages"]["enforcement"], rows["messages"]["keptSeconds"]) == ("message-ttl", 3)
    assert (rows["contactEvents"]["enforcement"], rows["contactEvents"]["keptSeconds"]) == ("max-age", 3600)

    async def transcript_gone() -> bool:
        return f"{prefix}.transcript_segment.c1" not in await subjects_stored(nc)

    await eventually(transcript_gone, seconds=TRANSCRIPT_TTL + GRACE)

    async def message_gone() -> bool:
        return await subjects_stored(nc) == [f"{prefix}.contact_created.c1"]

    await eventually(message_gone, seconds=MESSAGE_TTL + GRACE)
