"""`depthOver: N` at run time over a real nats-server: only the contacts beyond the first N move
(the newest), and two queues that overflow into each other do not bounce contacts."""

from __future__ import annotations

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain.contacts import ContactStatus
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import TENANT, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)


def queues_of(acd: AcdService) -> dict[str, str]:
    return {
        cid: r.contact.queue
        for (tenant, cid), r in acd.mirror.contacts.items()
        if tenant == TENANT and r.status is ContactStatus.WAITING
    }


async def test_depth_over_two_moves_only_the_eight_newest_and_nothing_bounces(
    nats_url: str, nc: NATS
) -> None:
    rules = {
        (TENANT, "a"): [OverflowRule("a-to-b", "a", "b", depth_over=2)],
        (TENANT, "b"): [OverflowRule("b-to-a", "b", "a", depth_over=2)],
    }
    instance = await start_instance(nats_url, AcdSettings(30.0, 3600, 0.1, region="eu"), run=False)
    base = instance.service
    clock = [1000.0]
    acd = AcdService(
        base.store, base.mirror, base.settings, clock=lambda: clock[0], overflow_rules=lambda: rules
    )
    try:
        # Only the view: the test makes every routing pass itself, at the times it sets.
        await acd.mirror.start()
        await acd.configure_queue(QueueSpec(TENANT, "a"))
        await acd.configure_queue(QueueSpec(TENANT, "b"))
        for i in range(10):
            await acd.enqueue(TENANT, WaitingContact(f"c{i}", "a", Channel.WEBCHAT, 50, 900.0 + i))

        async def all_seen() -> bool:
            return len(queues_of(acd)) == 10

        await eventually(all_seen)
        assert set(queues_of(acd).values()) == {"a"}

        async def moves_seen() -> bool:
            return sum(1 for r in acd.mirror.contacts.values() if r.overflow.from_queue) >= 8

        for tick in range(20):  # passes a minute and more apart: past every cool-down
            clock[0] = 1000.0 + tick * 90
            await acd.route_pass()
            await eventually(moves_seen)  # the next pass must see this one's moves
        where = queues_of(acd)
        # The two served first (the oldest) stayed; the eight beyond them went to b and stayed
        # there: b's excess may not go back while a is not below 2 - 1.
        assert {cid for cid, q in where.items() if q == "a"} == {"c0", "c1"}
        assert {cid for cid, q in where.items() if q == "b"} == {f"c{i}" for i in range(2, 10)}
        assert not any(r.overflow.from_queue == "b" for r in acd.mirror.contacts.values())  # none came back
        moved = acd.mirror.contacts[(TENANT, "c9")]
        assert (moved.overflow.from_queue, moved.contact.enqueued_at) == ("a", 909.0)
    finally:
        await acd.stop()
        await stop_instance(instance)
