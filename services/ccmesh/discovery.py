"""NATS micro discovery (`$SRV.PING|INFO|STATS[.<name>[.<id>]]`) for mesh services.

We answer the micro protocol with nats.micro's own response types, so `nats micro ls` and
any micro client see our services. We do not use `nats.micro.Service` for the endpoints
themselves: it awaits each handler inside the subscription callback, so one slow request
would hold up every other request of the endpoint; the mesh server runs requests
concurrently and keeps its own counters (`EndpointCounters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.micro.service import (
    EndpointInfo,
    EndpointStats,
    ServiceInfo,
    ServicePing,
    ServiceStats,
    ServiceVerb,
    control_subject,
)


@dataclass
class EndpointCounters:
    name: str
    subject: str
    queue_group: str
    metadata: dict[str, str] = field(default_factory=dict)
    num_requests: int = 0
    num_errors: int = 0
    processing_time_ns: int = 0
    last_error: str = ""

    def record(self, elapsed_ns: int, error: str | None) -> None:
        self.num_requests += 1
        self.processing_time_ns += elapsed_ns
        if error is not None:
            self.num_errors += 1
            self.last_error = error

    def stats(self) -> EndpointStats:
        average = self.processing_time_ns // self.num_requests if self.num_requests else 0
        return EndpointStats(
            name=self.name,
            subject=self.subject,
            queue_group=self.queue_group,
            num_requests=self.num_requests,
            num_errors=self.num_errors,
            processing_time=self.processing_time_ns,
            average_processing_time=average,
            last_error=self.last_error,
        )


class Discovery:
    """Answers PING, INFO and STATS for one service instance."""

    def __init__(
        self,
        nc: Client,
        *,
        name: str,
        instance_id: str,
        version: str,
        description: str,
        metadata: dict[str, str],
        endpoints: list[EndpointCounters],
    ) -> None:
        self._nc = nc
        self.name = name
        self.instance_id = instance_id
        self.version = version
        self.description = description
        self.metadata = metadata
        self.endpoints = endpoints
        self.started = datetime.now(UTC).replace(tzinfo=None)
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        handlers = {
            ServiceVerb.PING: self._ping,
            ServiceVerb.INFO: self._info,
            ServiceVerb.STATS: self._stats,
        }
        for verb, handler in handlers.items():
            for subject in (
                control_subject(verb),
                control_subject(verb, name=self.name),
                control_subject(verb, name=self.name, id=self.instance_id),
            ):
                self._subscriptions.append(await self._nc.subscribe(subject, cb=handler))

    async def stop(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.unsubscribe()

    def info(self) -> ServiceInfo:
        return ServiceInfo(
            name=self.name,
            id=self.instance_id,
            version=self.version,
            description=self.description,
            metadata=self.metadata,
            endpoints=[
                EndpointInfo(name=e.name, subject=e.subject, queue_group=e.queue_group, metadata=e.metadata)
                for e in self.endpoints
            ],
        )

    def stats(self) -> ServiceStats:
        return ServiceStats(
            id=self.instance_id,
            name=self.name,
            version=self.version,
            started=self.started,
            metadata=self.metadata,
            endpoints=[e.stats() for e in self.endpoints],
        )

    async def _ping(self, msg: Msg) -> None:
        ping = ServicePing(id=self.instance_id, name=self.name, version=self.version, metadata=self.metadata)
        await msg.respond(orjson.dumps(ping.to_dict()))

    async def _info(self, msg: Msg) -> None:
        await msg.respond(orjson.dumps(self.info().to_dict()))

    async def _stats(self, msg: Msg) -> None:
        await msg.respond(orjson.dumps(self.stats().to_dict()))
