"""service_host.serve stops a service's consumers together, each with the service's grace."""

from __future__ import annotations

import asyncio

from _mesh import REGION, eventually

from ccmesh.config import MeshConfig
from ccmesh.service_host import Runtime, ServiceDefinition, ServiceParts, serve

CONSUMERS = 3


class _BarrierConsumer:
    """Its stop returns once every consumer of the service is stopping: one by one, none would."""

    def __init__(self, stopping: list[_BarrierConsumer], everyone: asyncio.Event) -> None:
        self._stopping = stopping
        self._everyone = everyone
        self.started = False
        self.grace: float | None = None
        self.met_the_others = False

    async def start(self) -> None:
        self.started = True

    async def stop(self, grace_seconds: float = 5.0) -> None:
        self.grace = grace_seconds
        self._stopping.append(self)
        if len(self._stopping) == CONSUMERS:
            self._everyone.set()
        try:
            # A bound against hanging only; the outcome is read from met_the_others.
            await asyncio.wait_for(self._everyone.wait(), timeout=10)
            self.met_the_others = True
        except TimeoutError:
            pass


async def test_consumers_are_stopped_together_with_the_grace_of_the_service(nats_url: str) -> None:
    stopping: list[_BarrierConsumer] = []
    everyone = asyncio.Event()
    consumers = [_BarrierConsumer(stopping, everyone) for _ in range(CONSUMERS)]

    async def build(runtime: Runtime[MeshConfig]) -> ServiceParts:
        return ServiceParts(servicers=[], consumers=consumers)  # type: ignore[arg-type]

    definition = ServiceDefinition(
        name="stoptest", version="0.0.1", description="", config_model=MeshConfig, build=build
    )
    config = MeshConfig(
        region=REGION, nats_url=nats_url, auth_secret="z" * 32, grpc_port=-1, shutdown_grace_seconds=3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(definition, config, stop))
    try:

        def running() -> bool:
            if task.done():
                task.result()  # surface a startup failure instead of waiting out the deadline
            return all(consumer.started for consumer in consumers)

        await eventually(running, timeout=15, what="every consumer started")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)

    assert [consumer.grace for consumer in consumers] == [3, 3, 3]
    assert [consumer.met_the_others for consumer in consumers] == [True, True, True]
