"""A slow endpoint holds up only its own deliveries; personal data goes only where residency allows."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NATS

from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from delivery._harness import (
    REGION,
    InProcessService,
    Receiver,
    apply_subscription,
    publish_events,
    queued_event,
)

SLOW_SECONDS = 5.0


async def test_slow_endpoint_does_not_delay_another_endpoint(
    nc: NATS, service: InProcessService, receivers: list[Receiver]
) -> None:
    release = asyncio.Event()

    async def slow() -> int:
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
