"""A nats-server restarted under a test's feet: stopped and started again on the same port and
store directory (as a crashed or upgraded single node comes back), and a client that reconnects
for ever, as the services' clients do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.testing.topologies import Topology

#: Generous bounds against hanging; the recovery time itself is measured in bench/, not here.
WAIT_SECONDS = 10.0


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[NATS]:
    """A client that reconnects for ever, as the services' clients do."""
    connection = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield connection
    finally:
        await connection.close()


async def restart(topology: Topology, client: NATS) -> None:
    """Stop the server and start it again on the same port and store; wait for JetStream."""
    server = topology.server("n1")
    reconnects = client.stats["reconnects"]
    server.stop()
    server.start()
    await server.wait_healthy_async()
    await eventually(_reconnected(client, reconnects), seconds=WAIT_SECONDS)


def _reconnected(client: NATS, before: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return client.is_connected and client.stats["reconnects"] > before

    return probe


async def write_when_back(write: Callable[[], Awaitable[Any]]) -> None:
    """Retry a write until JetStream takes it (it may still be recovering its streams)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            try:
                await write()
                return
            except Exception:
                await asyncio.sleep(0.05)
