"""SIGKILL the integration service mid-stream and start it again: nothing lost, order per contact kept."""

from __future__ import annotations

import asyncio

import orjson
from nats.aio.client import Client as NATS

from delivery._harness import (
    REGION,
    InProcessService,
    Receiver,
    ServiceProcess,
    apply_contact_center,
    apply_subscription,
    publish_events,
    service_config,
)


async def test_sigkill_mid_stream_then_restart_delivers_everything_in_contact_order(
    nc: NATS, nats_url: str, receivers: list[Receiver]
) -> None:
    await apply_contact_center(nc)
    receiver = await Receiver.start()
    receivers.append(receiver)
    first = ServiceProcess(nats_url)
    try:
        await first.wait_ready()
        await apply_subscription(nc, "acme-crash", receiver.url)
        publishing = asyncio.create_task(publish_events(nc, contacts=20, per_contact=100))
        await receiver.wait_for(300)
        first.kill()
        published = await publishing
        received_before_restart = len(receiver.distinct())
        assert received_before_restart < len(published)  # the kill really was mid-stream
    finally:
        first.terminate()

    second = ServiceProcess(nats_url)
    try:
        await second.wait_ready()
        await receiver.wait_for(len(published))
    finally:
        second.terminate()

    assert receiver.distinct() == set(published)
    assert receiver.order_violations == []
    assert receiver.duplicates_are_identical()
    assert receiver.bad_signatures == 0


async def test_two_replicas_deliver_each_subscription_from_one_and_hand_over_when_it_stops(
    nc: NATS, nats_url: str, receivers: list[Receiver]
) -> None:
    await apply_contact_center(nc)
    receiver = await Receiver.start()
    receivers.append(receiver)
    replicas = [InProcessService(service_config(nats_url, instance_name=f"integration-{n}")) for n in (1, 2)]
    try:
        for replica in replicas:
            await replica.wait_ready(nc)
        await apply_subscription(nc, "acme-replicas", receiver.url)
        publishing = asyncio.create_task(publish_events(nc, contacts=10, per_contact=100))
        await receiver.wait_for(200)
        holder = await _lease_holder(nc, "acme-replicas")
        stopping = replicas[0] if holder == "integration-1" else replicas[1]
        await stopping.stop()
        replicas.remove(stopping)
        published = await publishing
        await receiver.wait_for(len(published))
        assert await _lease_holder(nc, "acme-replicas") != holder
    finally:
        for replica in replicas:
            await replica.stop()

    assert receiver.distinct() == set(published)
    assert receiver.order_violations == []
    assert receiver.duplicates_are_identical()


async def _lease_holder(nc: NATS, subscription: str) -> str:
    kv = await nc.jetstream().key_value(f"integration-{REGION}")
    async with asyncio.timeout(30):
        while True:
            try:
                entry = await kv.get(f"lease.{subscription}")
                if entry.value:
                    return str(orjson.loads(entry.value)["holder"])
            except Exception:  # released between holders
                pass
            await asyncio.sleep(0.05)
