"""Erasure time of a customer with 10,000 events (goal: under 60 s).

A region's stores on a real nats-server (single server, file storage, loopback) hold the
customer (a phone and an e-mail), 100 contacts of theirs with 100 events each (10,000 events,
each with its timeline entry), a contact link and a call recording per contact, and as much
again of another customer, which the erasure must read past and leave alone. The figure is one
`forget_customer` with the region's real adapters, as `ForgetCustomer` runs it: the targeted
purges, the object stores, then the byte scan of every stream and bucket.

    python -m bench.governance.erasure [--events 10000] [--contacts 100]

`bench/governance/__main__.py` adds `measure()` to the governance report.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats

from bench.report import Goal, print_report
from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.retention import DEFAULT_POLICY
from ccmesh.retention_holds import LegalHoldStore
from ccmesh.stores import ensure_region_stores
from ccmesh.testing.topologies import single_server
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from identity.adapters.contact_events import ContactEventsEraser
from identity.adapters.forget_objects import ObjectStoreEraser
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.adapters.profile_store import ProfileStore
from identity.adapters.region_scrubber import RegionScrubber
from identity.bootstrap import scrub_targets
from identity.domain.identifiers import Identifier, IdentifierKind
from identity.domain.residency import IndexKeys
from identity.domain.timeline import ContactLink, TimelineEntry
from identity.service_layer.forget import forget_customer
from identity.service_layer.resolve import ResolveContext, resolve_customer

REGION = "eu"
TENANT = "acme"
BATCH = 500


async def _customer(ctx: ResolveContext, phone: str, email: str) -> str:
    resolved = await resolve_customer(
        ctx, [Identifier(IdentifierKind.PHONE, phone), Identifier(IdentifierKind.EMAIL, email)]
    )
    assert resolved.customer is not None
    return resolved.customer.customer_id


async def _history_of(
    js: Any, history: HistoryStore, customer_id: str, email: str, events: int, contacts: int
) -> None:
    """`events` events over `contacts` contacts, each with its timeline entry, a link and a
    recording per contact."""
    publisher = EventPublisher(js, REGION)
    attachments = await js.object_store(naming.attachments_bucket(REGION))
    per_contact = max(1, events // contacts)
    written = 0
    while written < events:
        contact_id = uuid.uuid4().hex
        await history.link(TENANT, contact_id, ContactLink(customer_id, common_pb2.CHANNEL_KIND_SMS))
        await attachments.put(f"{TENANT}/{contact_id}/recording.wav", io.BytesIO(b"RIFF" + bytes(4096)))
        count = min(per_contact, events - written)
        batch: list[events_pb2.Event] = []
        entries: list[tuple[str, TimelineEntry]] = []
        for i in range(count):
            text = f"message {i}" + (f", write to {email}" if i % 10 == 0 else "")
            event = new_event(
                events_pb2.MessageReceived(message_id=uuid.uuid4().hex, customer_id=customer_id, text=text),
                tenant_id=TENANT,
                region=REGION,
                source="bench",
                contact_id=contact_id,
            )
            batch.append(event)
            entries.append(
                (TENANT, TimelineEntry(event.event_id, customer_id, 1, 1, contact_id, time.time(), text))
            )
            if len(batch) >= BATCH:
                await publisher.publish_all(batch)
                await history.append_all(entries)
                batch, entries = [], []
        if batch:
            await publisher.publish_all(batch)
            await history.append_all(entries)
        written += count


async def measure(events: int = 10_000, contacts: int = 100) -> dict[str, Any]:
    """Seconds to erase a customer with `events` events; `events` and what was removed."""
    with tempfile.TemporaryDirectory() as root:
        topology = single_server(Path(root) / "nats")
        try:
            nc = await nats.connect(topology.urls[0])
            js = nc.jetstream()
            await ensure_region_stores(js, REGION, DEFAULT_POLICY)
            profiles = ProfileStore(await js.key_value(naming.identity_bucket(REGION)))
            history_bucket = naming.identity_history_bucket(REGION)
            history = HistoryStore(js, await js.key_value(history_bucket), history_bucket)
            global_index = GlobalIndex(
                await js.key_value(naming.IDENTITY_GLOBAL_INDEX_BUCKET), IndexKeys(b"bench-index-key")
            )
            ctx = ResolveContext(
                store=profiles, tenant_id=TENANT, scope=TENANT, region=REGION, global_index=global_index
            )
            erased = await _customer(ctx, "+447700900555", "erase.me@example.org")
            kept = await _customer(ctx, "+447700900666", "keep.me@example.org")
            await _history_of(js, history, erased, "erase.me@example.org", events, contacts)
            await _history_of(js, history, kept, "keep.me@example.org", events, contacts)
            found = await profiles.get(TENANT, erased)
            assert found is not None

            started = time.perf_counter()
            erasure = await forget_customer(
                profiles,
                history,
                global_index,
                RegionScrubber(js, scrub_targets(REGION), REGION),
                ContactEventsEraser(js, REGION),
                customer=found[0],
                region=REGION,
                actor="bench",
                reason="bench",
                objects=ObjectStoreEraser(js, REGION),
                holds=LegalHoldStore(js, REGION),
            )
            seconds = time.perf_counter() - started
            removed = erasure.removed
            events_stream = naming.events_stream(REGION).name
            assert removed[events_stream] == events, removed
            assert (await js.stream_info(events_stream)).state.messages == events  # the other's stay
            await nc.drain()
        finally:
            topology.stop_all()
    return {"erasure_seconds": seconds, "events": events, "removed": sum(removed.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the erased customer")
    parser.add_argument("--contacts", type=int, default=100, help="contacts they are spread over")
    args = parser.parse_args()
    results = asyncio.run(measure(args.events, args.contacts))
    print_report(
        "governance-erasure", results, [Goal("erasure_seconds", "<", 60.0, results["erasure_seconds"])]
    )


if __name__ == "__main__":
    main()
