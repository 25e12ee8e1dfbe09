"""A routing process SIGKILLed right after it stored a reservation, before it published the
ContactOffered: a sweeper of another instance publishes the offer, exactly once, long before the
offer would time out."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, entries_of, js_publisher
from routing.adapters.acd_store import AcdOutboxMirror, agent_key

from ._steps import REGION, SWEEP_AFTER, TENANT, event_subject, region_streams, stored

pytestmark = pytest.mark.timeout(60)
WRITER = Path(__file__).with_name("_dying_writer.py")


async def test_an_offer_of_a_killed_process_is_published_once_by_a_sweeper(nc: NATS, nats_url: str) -> None:
    js = nc.jetstream()
    await region_streams(js)
    kv = await ensure_bucket(js, naming.acd_bucket(REGION), history=1)
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        nats_url,
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        assert writer.stdout is not None
        async with asyncio.timeout(30):
            assert (await writer.stdout.readline()).strip() == b"written"
        writer.send_signal(signal.SIGKILL)
        await writer.wait()
    finally:
        if writer.returncode is None:
            writer.kill()
            await writer.wait()
    offered = event_subject("contact_offered", "k1")
    assert await stored(js, offered) == 0  # the dead process never announced it

    outbox = Outbox(kv, js_publisher(js), after_seconds=SWEEP_AFTER)
    mirror = AcdOutboxMirror(kv, outbox)  # a surviving instance, started after the kill
    await mirror.start()
    await outbox.start()
    try:

        async def sent_and_removed() -> bool:
            carried = entries_of((await kv.get(agent_key(TENANT, "a1"))).value)
            return await stored(js, offered) >= 1 and not carried

        await eventually(sent_and_removed)
        assert await stored(js, offered) == 1
    finally:
        await outbox.stop()
        await mirror.stop()
