"""`make bench-history`: NATS messages it takes to read one contact's events back.

A real nats-server, the region's streams as the services create them, contacts with a few
events each (interleaved, and another tenant's beside them). Each read is counted from the
server's own counters (`/varz` in_msgs + out_msgs, before and after), so every request, reply,
delivery and server notice a read causes is in the figure; reads run one after another.

Two reads: a contact's whole history (`contact_history`) and its opening event alone
(`first_event_of_kind`, what connector calls need), and a workspace's three reads of one
contact in a row (`RecentHistories`). With the consumer each read used to create, fetch from and
delete, a read cost 17 messages for a 10-event contact (7 beyond the events), the opening event
as much, and the workspace's three reads 51.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import nats
from nats.js.client import JetStreamContext

from bench.report import Goal, print_report
from ccmesh.contact_history import contact_history, first_event_of_kind
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.natsserver import NatsServer, NatsServerSpec
from ccmesh.recent_histories import RecentHistories
from contactcenter.events.v1 import events_pb2

REGION = "eu"
CONTACTS = 50
#: Events per contact: created, queued, offered, accepted, messages, closed.
EVENTS = 10
#: Reads of one contact's history by an agent's workspace (offer view, accept, conversation).
WORKSPACE_READS = 3


def _events(tenant: str, contact: str) -> list[events_pb2.Event]:
    made = [
        new_event(
            events_pb2.ContactCreated(customer_id="cus"),
            tenant_id=tenant,
            region=REGION,
            source="bench",
            contact_id=contact,
        )
    ]
    made.append(
        new_event(
            events_pb2.ContactQueued(), tenant_id=tenant, region=REGION, source="bench", contact_id=contact
        )
    )
    for _ in range(EVENTS - 3):
        made.append(
            new_event(
                events_pb2.MessageReceived(),
                tenant_id=tenant,
                region=REGION,
                source="bench",
                contact_id=contact,
            )
        )
    made.append(
        new_event(
            events_pb2.ContactClosed(), tenant_id=tenant, region=REGION, source="bench", contact_id=contact
        )
    )
    return made


async def _fill(js: JetStreamContext) -> list[str]:
    publisher = EventPublisher(js, REGION)
    contacts = [f"c{n:04d}" for n in range(CONTACTS)]
    histories = [_events(tenant, contact) for contact in contacts for tenant in ("acme", "globex")]
    for step in range(EVENTS):  # interleaved, as live traffic stores them
        for history in histories:
            await publisher.publish(history[step])
    return contacts


def _counted(server: NatsServer) -> int:
    varz = server.monitoring("varz")
    return int(varz["in_msgs"]) + int(varz["out_msgs"])


async def _measure(server: NatsServer) -> dict[str, float]:
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure_region_streams(js, REGION, StreamSettings())
        contacts = await _fill(js)
        await asyncio.sleep(0.2)
        before = _counted(server)
        read = 0
        for contact in contacts:
            read += len(await contact_history(js, REGION, "acme", contact))
        # Server notices (consumer deleted) follow the reads closely; let them land.
        await asyncio.sleep(0.5)
        history_messages = _counted(server) - before
        assert read == CONTACTS * EVENTS, read
        before = _counted(server)
        for contact in contacts:
            assert await first_event_of_kind(js, REGION, "acme", contact, "contact_created") is not None
        await asyncio.sleep(0.5)
        opening_messages = _counted(server) - before
        # A workspace's pattern: the offer's view, the accept and the conversation, one after another.
        histories = RecentHistories(js, REGION)
        before = _counted(server)
        for contact in contacts:
            for _ in range(WORKSPACE_READS):
                assert len(await histories.of_contact("acme", contact)) == EVENTS
        await asyncio.sleep(0.5)
        workspace_messages = _counted(server) - before
    finally:
        await nc.close()
    return {
        "events_per_contact": EVENTS,
        "messages_per_history_read": round(history_messages / CONTACTS, 2),
        "messages_per_opening_read": round(opening_messages / CONTACTS, 2),
        "messages_per_workspace_contact": round(workspace_messages / CONTACTS, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            results = asyncio.run(_measure(server))
        finally:
            server.stop()
    print(
        f"history read: {results['messages_per_history_read']} messages for {EVENTS} events; "
        f"opening read: {results['messages_per_opening_read']} messages; "
        f"{WORKSPACE_READS} workspace reads: {results['messages_per_workspace_contact']} messages"
    )
    print_report(
        "history",
        results,
        [
            # A request, the events and the end-of-batch marker; no consumer round trips.
            Goal("messages_per_history_read", "<=", EVENTS + 2, results["messages_per_history_read"]),
            # A request and its answer.
            Goal("messages_per_opening_read", "<=", 2, results["messages_per_opening_read"]),
            # One whole read, then a request and its not-found answer per read again.
            Goal(
                "messages_per_workspace_contact",
                "<=",
                EVENTS + 2 + 2 * (WORKSPACE_READS - 1),
                results["messages_per_workspace_contact"],
            ),
        ],
    )


if __name__ == "__main__":
    main()
