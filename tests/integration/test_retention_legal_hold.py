"""A legal hold keeps its records on a real nats-server after their originals expired (events,
an attachment, timeline and audit entries, all with a 2 s retention), `ccctl retention report`
lists it, and releasing it leaves the legal-hold store empty."""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import replace
from typing import Any

import orjson
import pytest
from _platform import REGION, eu_contact_center, eventually
from nats.aio.client import Client as NATS

from ccctl.main import main
from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.retention_holds import EVENTS, KEYS, OBJECTS, LegalHoldStore, holds_bucket, new_hold
from ccmesh.stores import ensure_region_stores
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(90)

TTL = 2
GRACE = 5


def short_lived() -> ContactCenter:
    raw = eu_contact_center().model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = {
        "events": {"maxAgeSeconds": TTL},
        "attachments": {"maxAgeSeconds": TTL},
        "identityHistory": {"maxAgeSeconds": TTL},
    }
    return ContactCenter.model_validate(raw)


async def messages_in(nc: NATS, stream: str) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.messages)


async def report(nats_url: str, capsys: pytest.CaptureFixture[str], output: str = "json") -> Any:
    capsys.readouterr()
    args = ["retention", "report", "--region", REGION, "-o", output, "--nats-url", nats_url]
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    return orjson.loads(out) if output == "json" else out


async def test_a_legal_hold_keeps_its_records_past_their_retention_until_released(
    nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    js = nc.jetstream()
    document = short_lived()
    await (await ConfigStore.open(js)).apply(document)
    await ensure_region_stores(js, REGION, document.spec.retention.policy())
    publisher = EventPublisher(js, REGION)

    def event(payload: Any, contact_id: str) -> events_pb2.Event:
        return new_event(payload, tenant_id="acme", region=REGION, source="test", contact_id=contact_id)

    await publisher.publish_all(
        [
            event(events_pb2.ContactCreated(customer_id="cust-1"), "c1"),
            event(events_pb2.MessageReceived(message_id="m1", text="the contract says 30 days"), "c1"),
            event(events_pb2.TranscriptSegment(stream_id="MZ1", track="caller", text="I never agreed"), "c1"),
            event(events_pb2.MessageReceived(message_id="m2", text="not held"), "c2"),
        ]
    )
    attachments = await js.object_store(naming.attachments_bucket(REGION))
    await attachments.put("acme/c1/recording.wav", io.BytesIO(b"RIFF-held" + b"\1" * 300_000))
    await attachments.put("acme/c2/recording.wav", io.BytesIO(b"RIFF-not-held"))
    history_bucket = naming.identity_history_bucket(REGION)
    history = await js.key_value(history_bucket)
    await history.put("tl.acme.cust-1.e1", b'{"contact_id": "c1"}')
    await history.put("au.acme.cust-1.a1", b'{"action": "merge"}')
    await history.put("tl.acme.cust-2.e1", b'{"contact_id": "c2"}')

    holds = LegalHoldStore(js, REGION)
    hold = new_hold("acme", customer_id="cust-1", contact_id="", reason="case 7", placed_by="counsel")
    hold = replace(hold, contact_ids=("c1",))
    copies = [
        *await holds.contact_events("acme", "c1"),
        *await holds.bucket_entries(history_bucket, ["tl.acme.cust-1.>", "au.acme.cust-1.>"]),
        *await holds.objects_naming(["c1"]),
    ]
    placed = await holds.place(hold, copies)
    assert dict(placed.held) == {EVENTS: 1, KEYS: 2, OBJECTS: 1}

    rows = await report(nats_url, capsys)
    assert [(h["holdId"], h["customerId"], h["held"]) for h in rows["legalHolds"]] == [
        (placed.hold_id, "cust-1", {EVENTS: 1, KEYS: 2, OBJECTS: 1})
    ]
    legal_holds = next(row for row in rows["stores"] if row["name"] == "legalHolds")
    assert legal_holds["enforcement"] == "kept"
    table = await report(nats_url, capsys, "table")
    assert placed.hold_id in table and "customer cust-1" in table and "1 events, 2 keys, 1 objects" in table

    async def originals_expired() -> bool:
        streams = (
            naming.events_stream(REGION).name,
            f"OBJ_{naming.attachments_bucket(REGION)}",
            f"KV_{history_bucket}",
        )
        return all([await messages_in(nc, stream) == 0 for stream in streams])

    await eventually(originals_expired, seconds=TTL + GRACE)

    kept = {(c.kind, c.name): c.data for c in await holds.copies("acme", placed.hold_id)}
    events = [
        events_pb2.Event.FromString(base64.b64decode(e["data"])) for e in orjson.loads(kept[(EVENTS, "c1")])
    ]
    assert [e.WhichOneof("payload") for e in events] == [
        "contact_created",
        "message_received",
        "transcript_segment",
    ]
    assert events[2].transcript_segment.text == "I never agreed"
    assert kept[(OBJECTS, f"{naming.attachments_bucket(REGION)}/acme/c1/recording.wav")].startswith(
        b"RIFF-held"
    )
    assert kept[(KEYS, f"{history_bucket}/au.acme.cust-1.a1")] == b'{"action": "merge"}'
    assert {name for _, name in kept} == {
        "c1",
        f"{naming.attachments_bucket(REGION)}/acme/c1/recording.wav",
        f"{history_bucket}/tl.acme.cust-1.e1",
        f"{history_bucket}/au.acme.cust-1.a1",
    }

    assert await holds.release("acme", placed.hold_id) == 4
    assert await holds.holds() == []
    assert await messages_in(nc, f"OBJ_{holds_bucket(REGION)}") == 0
    assert (await report(nats_url, capsys))["legalHolds"] == []
