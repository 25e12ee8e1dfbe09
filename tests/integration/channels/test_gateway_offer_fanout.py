"""Offer events reach each workspace socket from one subscription per tenant and kind.

The fan-out gets the connection the gateway has (ccmesh's), whose `flush()` is answered only after
the subscriptions written before it: nats.py's own writes its PING ahead of them.

With many agents logged in, NATS must deliver each offer event to the gateway once, not once
per socket; each socket still gets exactly the events that name its agent.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.nats_connection import connect
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from gateway.adapters.offer_fanout import OFFER_EVENTS, OfferFanout, agent_named
from tests.integration._mesh import eventually

REGION = "eu"


def offered(tenant: str, contact: str, agent: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=f"offer-{contact}-{agent}",
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        region=REGION,
        contact_id=contact,
        source="routing-acd",
        schema_version=1,
        contact_offered=events_pb2.ContactOffered(agent_id=agent, reservation_id=f"r-{contact}", queue="q"),
    )


def declined(tenant: str, contact: str, agent: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=f"declined-{contact}-{agent}",
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        region=REGION,
        contact_id=contact,
        source="routing-acd",
        schema_version=1,
        offer_declined=events_pb2.OfferDeclined(agent_id=agent, reservation_id=f"r-{contact}"),
    )


async def publish(nc: NATS, event: events_pb2.Event) -> None:
    kind = event.WhichOneof("payload")
    subject = naming.event_subject(REGION, event.tenant.tenant_id, str(kind), event.contact_id)
    await nc.publish(subject, event.SerializeToString())
    await nc.flush()


async def subscriptions_of(connection: NATS) -> int:
    """Subscriptions the fan-out's own connection holds (flushed to the server)."""
    await connection.flush()
    return len(connection._subs)


async def test_each_agent_gets_only_its_own_offer_events(nc: NATS, nats_url: str) -> None:
    own = await connect([nats_url])
    fanout = OfferFanout(own, REGION)
    got: dict[str, list[str]] = {"alice": [], "bob": [], "bob-2": []}
    try:
        stop_alice = await fanout.listen("acme", "alice", lambda e: got["alice"].append(e.event_id))
        await fanout.listen("acme", "bob", lambda e: got["bob"].append(e.event_id))
        # A second socket of the same agent (two tabs) gets the same events.
        await fanout.listen("acme", "bob", lambda e: got["bob-2"].append(e.event_id))
        # Three listeners, one set of subscriptions: one per offer event kind.
        assert await subscriptions_of(own) == len(OFFER_EVENTS)

        await publish(nc, offered("acme", "c1", "alice"))
        await publish(nc, offered("acme", "c2", "bob"))
        await publish(nc, declined("acme", "c2", "bob"))
        # Another tenant's agent of the same id is not ours.
        await publish(nc, offered("other", "c3", "alice"))

        await eventually(lambda: got["bob-2"] == ["offer-c2-bob", "declined-c2-bob"])
        assert got["alice"] == ["offer-c1-alice"]
        assert got["bob"] == ["offer-c2-bob", "declined-c2-bob"]

        await stop_alice()
        await publish(nc, offered("acme", "c4", "alice"))
        await publish(nc, offered("acme", "c5", "bob"))
        await eventually(lambda: "offer-c5-bob" in got["bob"])
        assert got["alice"] == ["offer-c1-alice"]
        assert fanout.listening("acme") == 2
    finally:
        await fanout.close()
        await own.drain()


async def test_the_last_listener_leaving_closes_the_tenants_subscriptions(nc: NATS, nats_url: str) -> None:
    own = await connect([nats_url])
    fanout = OfferFanout(own, REGION)
    try:
        stops = await asyncio.gather(*(fanout.listen("acme", f"a{i}", lambda e: None) for i in range(20)))
        # Twenty sockets opening at once still subscribe once.
        assert await subscriptions_of(own) == len(OFFER_EVENTS)
        for stop in stops:
            await stop()
        assert fanout.listening("acme") == 0
        assert await subscriptions_of(own) == 0
        # A new listener opens them again.
        got: list[str] = []
        await fanout.listen("acme", "a1", lambda e: got.append(e.event_id))
        await publish(nc, offered("acme", "c1", "a1"))
        await eventually(lambda: got == ["offer-c1-a1"])
    finally:
        await fanout.close()
        await own.drain()


async def test_a_failing_listener_does_not_keep_the_event_from_the_others(nc: NATS, nats_url: str) -> None:
    own = await connect([nats_url])
    fanout = OfferFanout(own, REGION)
    got: list[str] = []

    def broken(event: events_pb2.Event) -> None:
        raise RuntimeError("socket gone")

    try:
        await fanout.listen("acme", "alice", broken)
        await fanout.listen("acme", "alice", lambda e: got.append(e.event_id))
        await publish(nc, offered("acme", "c1", "alice"))
        await eventually(lambda: got == ["offer-c1-alice"])
    finally:
        await fanout.close()
        await own.drain()


def test_only_offer_events_name_an_agent() -> None:
    assert agent_named(offered("acme", "c1", "alice")) == "alice"
    assert agent_named(declined("acme", "c1", "bob")) == "bob"
    other = events_pb2.Event(contact_closed=events_pb2.ContactClosed())
    assert agent_named(other) == ""
