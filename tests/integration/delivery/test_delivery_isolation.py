"""A slow endpoint holds up only its own deliveries; personal data goes only where residency allows."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nats.aio.client import Client as NATS

from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from delivery._harness import (
    REGION,
    InProcessService,
    Receiver,
    apply_contact_center,
    apply_subscription,
    publish_events,
    queued_event,
    service_config,
)

SLOW_SECONDS = 5.0


async def test_slow_endpoint_does_not_delay_another_endpoint(
    nc: NATS, service: InProcessService, receivers: list[Receiver]
) -> None:
    release = asyncio.Event()

    async def slow(_body: dict[str, Any]) -> int:
        # Answers after 5 s (or when the test is done with it).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), SLOW_SECONDS)
        return 200

    slow_receiver = await Receiver.start(behaviour=slow)
    fast_receiver = await Receiver.start()
    receivers.extend([slow_receiver, fast_receiver])
    await apply_subscription(nc, "acme-slow", slow_receiver.url)
    await apply_subscription(nc, "acme-fast", fast_receiver.url)

    published = await publish_events(nc, contacts=10, per_contact=20)
    await fast_receiver.wait_for(len(published))

    # Every event reached the fast endpoint while the slow one had not yet answered a single request.
    assert slow_receiver.completed == 0
    assert fast_receiver.order_violations == []
    release.set()
    await slow_receiver.wait_for(len(published))
    assert slow_receiver.order_violations == []


async def test_personal_data_only_to_endpoints_the_residency_policy_allows(
    nc: NATS, service: InProcessService, receivers: list[Receiver]
) -> None:
    in_region = await Receiver.start()
    abroad = await Receiver.start()
    receivers.extend([in_region, abroad])
    await apply_subscription(nc, "acme-eu", in_region.url)
    # acme's eu policy allows personal data in no other region: the us endpoint gets no identifiers.
    await apply_subscription(nc, "acme-us", abroad.url, endpointRegion="us")

    publisher = EventPublisher(nc.jetstream(), REGION)
    created = events_pb2.Event(
        event_id="c0001-00000",
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id="c0001",
        contact_created=events_pb2.ContactCreated(
            channel=common_pb2.CHANNEL_KIND_SMS,
            **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+442079460958")},  # type: ignore[arg-type]
        ),
    )
    await publisher.publish(created)
    await publisher.publish(queued_event("c0001", 1))
    await in_region.wait_for(2)
    await abroad.wait_for(1)

    assert in_region.distinct() == {"c0001-00000", "c0001-00001"}
    assert b"+442079460958" in in_region.receipts[0].body
    assert abroad.distinct() == {"c0001-00001"}
    assert all(b"+442079460958" not in r.body for r in abroad.receipts)


async def test_a_contact_stuck_on_retries_does_not_hold_up_other_contacts(
    nc: NATS, nats_url: str, receivers: list[Receiver]
) -> None:
    stuck = "c0000"
    released = asyncio.Event()

    async def refuse_one_contact(body: dict[str, Any]) -> int:
        return 503 if body["contactId"] == stuck and not released.is_set() else 200

    await apply_contact_center(nc)
    receiver = await Receiver.start(behaviour=refuse_one_contact)
    receivers.append(receiver)
    # The breaker is the endpoint's: kept closed here to show the per-contact lanes alone.
    running = InProcessService(service_config(nats_url, breaker_threshold=10_000, delivery_batch=16))
    try:
        await running.wait_ready(nc)
        await apply_subscription(nc, "acme-lanes", receiver.url)
        published = await publish_events(nc, contacts=5, per_contact=40)
        others = {e for e in published if not e.startswith(stuck)}
        async with asyncio.timeout(60):
            while True:
                if others <= receiver.distinct():
                    break
                await asyncio.sleep(0.02)
        assert not any(e.startswith(stuck) for e in receiver.distinct())

        released.set()
        await receiver.wait_for(len(published))
    finally:
        await running.stop()
    assert receiver.order_violations == []
