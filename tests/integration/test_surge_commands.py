"""Manual surge commands reach every routing instance of the region over a real nats-server."""

from __future__ import annotations

import asyncio

import nats

from routing.adapters.surge_commands import NatsSurgeCommands
from routing.domain.fallback import ManualCommand
from tests.integration._mesh import eventually


async def test_a_command_reaches_every_listening_instance_and_a_bad_one_is_skipped(nats_url: str) -> None:
    clients = [await nats.connect(nats_url) for _ in range(3)]
    try:
        received: list[list[ManualCommand]] = [[], []]
        stops = []
        for index, client in enumerate(clients[:2]):

            async def take(command: ManualCommand, seen: list[ManualCommand] = received[index]) -> None:
                seen.append(command)

            stops.append(await NatsSurgeCommands(client, "eu").listen(take))
        other_region: list[ManualCommand] = []

        async def elsewhere(command: ManualCommand) -> None:
            other_region.append(command)

        stops.append(await NatsSurgeCommands(clients[2], "us").listen(elsewhere))
        await asyncio.gather(*(c.flush() for c in clients))

        await clients[0].publish("ccsurgecmd.eu", b"not json")  # logged and skipped
        command = ManualCommand("acme", "support-burst", "engage", 1000.0, "sup-1")
        await NatsSurgeCommands(clients[0], "eu").broadcast(command)

        await eventually(lambda: all(seen == [command] for seen in received), 10.0, "both instances got it")
        await clients[2].flush()
        assert other_region == []
        for stop in stops:
            await stop()
    finally:
        for client in clients:
            await client.close()
