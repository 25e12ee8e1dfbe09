"""At-least-once, signed, in order per contact: real receivers, a real nats-server, the real service."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from delivery._harness import (
    InProcessService,
    Receiver,
    apply_subscription,
    free_port,
    publish_events,
)


async def test_5000_events_arrive_signed_once_per_webhook_id_in_contact_order(
    nc: NATS, service: InProcessService, receivers: list[Receiver]
) -> None:
    receiver = await Receiver.start()
    receivers.append(receiver)
    await apply_subscription(nc, "acme-crm", receiver.url)

    published = await publish_events(nc, contacts=50, per_contact=100)
    await receiver.wait_for(len(published))

    assert receiver.distinct() == set(published)
    assert receiver.bad_signatures == 0
    assert receiver.order_violations == []
    assert receiver.duplicates_are_identical()


async def test_receiver_down_then_back_gets_every_event(
    nc: NATS, service: InProcessService, receivers: list[Receiver]
) -> None:
    port = free_port()
    await apply_subscription(nc, "acme-down", f"http://127.0.0.1:{port}/hook")
    published = await publish_events(nc, contacts=20, per_contact=15)
    # Nothing listens on the port: every attempt is refused until the breaker opens and probes.
    await asyncio.sleep(1.5)

    receiver = await Receiver.start(port=port)
    receivers.append(receiver)
    await receiver.wait_for(len(published))

    assert receiver.distinct() == set(published)
    assert receiver.order_violations == []
    assert receiver.duplicates_are_identical()
