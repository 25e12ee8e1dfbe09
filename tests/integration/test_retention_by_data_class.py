"""Each data class of a region expires on a real nats-server within its time to live plus 5 s
(contact events, messages and transcripts from the event stream, attachments from the object
store, audit records from the history bucket, an ended journey's state per key), customer
profiles stay, and `ccctl retention report` says beforehand what expires when."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from _platform import REGION, eu_contact_center, eventually
from nats.aio.client import Client as NATS
from nats.js.errors import KeyNotFoundError

from ccctl.main import main
from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.kv import write_expiring
from ccmesh.stores import ensure_region_stores
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(90)

#: Short enough to watch every class expire during the test.
TTL = 2
#: The issue's bound: a record is gone within its time to live plus this.
GRACE = 5
SHORT: dict[str, Any] = {
    "events": {"maxAgeSeconds": TTL},
    "attachments": {"maxAgeSeconds": TTL},
    "identityHistory": {"maxAgeSeconds": TTL},
    "journeys": {"finishedTtlSeconds": TTL},
}


def short_lived() -> ContactCenter:
    raw = eu_contact_center().model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = SHORT
    return ContactCenter.model_validate(raw)


async def report(nats_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """What `ccctl retention report -o json` prints, by data class (run as a user would run it,
    in a thread: the command runs its own event loop)."""
    capsys.readouterr()
    args = ["retention", "report", "--region", REGION, "-o", "json", "--nats-url", nats_url]
    assert await asyncio.to_thread(main, args) == 0
    document = orjson.loads(capsys.readouterr().out)
    assert document["retentionFrom"] == "contactcenter/eu"
    return {row["name"]: row for row in document["dataClasses"]}


def event(payload: Any, contact_id: str) -> events_pb2.Event:
    return new_event(payload, tenant_id="acme", region=REGION, source="test", contact_id=contact_id)


async def test_every_data_class_expires_within_its_ttl_and_the_report_says_when(
    nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    js = nc.jetstream()
    document = short_lived()
    await (await ConfigStore.open(js)).apply(document)
    await ensure_region_stores(js, REGION, document.spec.retention.policy())

    written = datetime.now(UTC)
    publisher = EventPublisher(js, REGION)
    await publisher.publish_all(
        [
            event(events_pb2.ContactCreated(customer_id="cust-1"), "c1"),
            event(events_pb2.MessageReceived(message_id="m1", text="My card number is 4111"), "c1"),
            event(events_pb2.TranscriptSegment(stream_id="MZ1", track="caller", text="my address"), "c1"),
        ]
    )
    attachments = await js.object_store(naming.attachments_bucket(REGION))
    await attachments.put("acme/c1/recording.wav", io.BytesIO(b"RIFF" + b"\0" * 4096))
    history = await js.key_value(naming.identity_history_bucket(REGION))
    await history.put("au.acme.cust-1.a1", b'{"actor": "agent-a1", "reason": "merge"}')
    journeys = await js.key_value(naming.journeys_bucket(REGION))
    await write_expiring(journeys, "journey.acme.c1", b"ended", last=None, ttl=TTL)
    profiles = await js.key_value(naming.identity_bucket(REGION))
    await profiles.put("customer.acme.cust-1", b"profile")

    rows = await report(nats_url, capsys)
    for key in ("contactEvents", "messages", "transcripts"):
        assert rows[key]["messages"] == 3
        assert rows[key]["setting"] == "spec.retention.events.maxAgeSeconds"
    for key in ("contactEvents", "messages", "transcripts", "attachments", "audit"):
        assert rows[key]["enforcement"] == "max-age" and rows[key]["keptSeconds"] == TTL, key
        expiry = datetime.fromisoformat(rows[key]["nextExpiry"])
        # Written within this test's first seconds, so it goes TTL after that.
        assert written + timedelta(seconds=TTL - 1) <= expiry <= datetime.now(UTC) + timedelta(seconds=TTL), (
            key
        )
    assert rows["journeyState"]["enforcement"] == "finished-ttl"
    assert rows["journeyState"]["keptSeconds"] == TTL
    assert rows["profiles"]["enforcement"] == "kept" and rows["profiles"]["messages"] == 1
    # The table a person reads says the same.
    args = ["retention", "report", "--region", REGION, "--nats-url", nats_url]
    assert await asyncio.to_thread(main, args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "region eu: retention from contactcenter/eu"
    transcripts = next(line.split() for line in table if line.startswith("transcripts"))
    assert transcripts[1:5] == [naming.events_stream(REGION).name, "max-age", f"{TTL}s", "3"]
    # Below the data classes, every store of the region: here dead letters keep their month.
    stores_header = table.index(next(line for line in table if line.startswith("STORE KEY")))
    dead_letters = next(line.split() for line in table[stores_header:] if line.startswith("deadLetters"))
    assert dead_letters[2:4] == ["max-age", "30d"]

    async def gone() -> bool:
        now = await report(nats_url, capsys)
        stores_empty = all(now[key]["messages"] == 0 for key in ("contactEvents", "attachments", "audit"))
        try:
            await journeys.get("journey.acme.c1")
        except KeyNotFoundError:
            return stores_empty
        return False

    # Measured from the last write: every class has expired by its time to live plus the grace.
    await eventually(gone, seconds=TTL + GRACE)
    rows = await report(nats_url, capsys)
    assert all(rows[key]["nextExpiry"] is None for key in rows)
    # Profiles hold live data: they stay until erased.
    assert (await profiles.get("customer.acme.cust-1")).value == b"profile"
    assert rows["profiles"]["messages"] == 1
