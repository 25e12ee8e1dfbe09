"""Run one service: config, telemetry, NATS, both transports, background work, clean stop.

A service's `__main__` calls `run_service(definition)`. The shape follows nats.py's micro
example: an AsyncExitStack, SIGTERM/SIGINT set an event, then everything drains in order:
health goes NOT_SERVING, the mesh stops taking requests and finishes those in flight, the
gRPC server gets its grace period, consumers finish the event in hand, NATS drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
import orjson
from google.protobuf.descriptor import ServiceDescriptor
from nats.aio.client import Client
from nats.js.client import JetStreamContext

from ccmesh import event_loop, naming, nats_connection, telemetry
from ccmesh.access import AccessControl
from ccmesh.audit import AuditLog
from ccmesh.auth import ANY_TENANT, TokenAuthority
from ccmesh.config import ConfigError, MeshConfig, load_config
from ccmesh.configplane.models import ContactCenter, Tenant
from ccmesh.configplane.watch import ConfigWatcher
from ccmesh.events import DurableConsumer, EventPublisher
from ccmesh.grpc_server import GrpcServer
from ccmesh.policy_violations import PolicyCheck, rules_of
from ccmesh.retention import DEFAULT_POLICY, RetentionPolicy
from ccmesh.rpc_client import MeshChannel
from ccmesh.rpc_server import MeshServer
from ccmesh.stores import RegionStores

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=MeshConfig)


class ServiceTokens:
    """The service's own token for calls to other services, re-minted before it expires."""

    def __init__(self, authority: TokenAuthority, service: str, ttl_seconds: int = 3600) -> None:
        self._authority = authority
        self._service = service
        self._ttl = ttl_seconds
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        now = time.monotonic()
        if now >= self._renew_at:
            self._token = self._authority.mint(ANY_TENANT, "service", self._service, self._ttl)
            self._renew_at = now + self._ttl / 2
        return self._token


@dataclass
class Runtime(Generic[ConfigT]):
    """What a service's bootstrap receives to build its parts."""

    name: str
    config: ConfigT
    nc: Client
    js: JetStreamContext
    access: AccessControl
    #: Channel for calls to other services, authenticated as this service.
    channel: MeshChannel
    events: EventPublisher
    stack: AsyncExitStack
    #: The live view of the config plane.
    watcher: ConfigWatcher
    #: Placement tags for the region's streams and buckets (empty on an untagged server).
    placement_tags: list[str]
    #: The region's ContactCenter (tenants, brands, residency) as last applied; None before any.
    contact_center: ContactCenter | None = None
    #: The retention of `contact_center`, worked out once per document (stores ask on every write).
    _retention: tuple[ContactCenter | None, RetentionPolicy] = field(
        default=(None, DEFAULT_POLICY), init=False, repr=False
    )

    def tenant(self, tenant_id: str) -> Tenant | None:
        """Read on every call, so `ccctl apply` takes effect without a restart."""
        current = self.contact_center
        return current.spec.tenant(tenant_id) if current is not None else None

    def finished_ttl(self, store_key: str) -> int:
        """Seconds a finished record of the store (`ccmesh.retention` key) stays readable, from
        the region's retention read on every call; 0 keeps finished records."""
        document, policy = self._retention
        if document is not self.contact_center:
            policy = _retention_of(self.contact_center)
            self._retention = (self.contact_center, policy)
        return policy.finished_ttl(store_key)

    def policy_check(self, source: str) -> PolicyCheck:
        """The region's compliance rules as this service enforces them: read from the current
        ContactCenter on every check, refusals published as PolicyViolation by `source`."""
        return PolicyCheck(
            region=self.config.region,
            source=source,
            rules=lambda: rules_of(self.contact_center),
            events=self.events,
        )


@dataclass
class ServiceParts:
    """What a bootstrap returns: servicers to serve and background work to run."""

    #: (servicer, service descriptor, generated add_<Service>Servicer_to_server)
    servicers: list[tuple[object, ServiceDescriptor, Callable[[Any, grpc.aio.Server], None]]]
    consumers: list[DurableConsumer[Any]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Run first when a stop is asked, before anything drains (e.g. tell WebSocket clients to go).
    on_stopping: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceDefinition(Generic[ConfigT]):
    name: str
    version: str
    description: str
    config_model: type[ConfigT]
    build: Callable[[Runtime[ConfigT]], Awaitable[ServiceParts]]


def run_service(definition: ServiceDefinition[Any], argv: list[str] | None = None) -> int:
    try:
        config = load_config(definition.config_model)
    except ConfigError as error:
        print(f"{definition.name}: {error}", file=sys.stderr)
        return 2
    telemetry.configure_logging(definition.name, config.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve(definition, config, owns_process=True), config.event_loop)
    return 0


async def serve(
    definition: ServiceDefinition[Any],
    config: MeshConfig,
    stop: asyncio.Event | None = None,
    *,
    owns_process: bool = False,
) -> None:
    """Run the service until `stop` (or SIGTERM, SIGINT). `owns_process`: the service is all the
    process runs (`run_service`), so what start-up made may be kept from the collector."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    instance_id = config.instance_name or f"{socket.gethostname()}-{os.getpid()}"
    telemetry.setup_telemetry(
        definition.name, region=config.region, version=definition.version, instance_id=instance_id
    )
    log.info("starting with %s", config.redacted())
    async with AsyncExitStack() as stack:
        # Runs last: spans of requests finished during the drain are still exported.
        stack.callback(telemetry.shutdown_telemetry)
        nc = await nats_connection.connect(
            config.nats_url.split(","),
            window=config.nats_write_window_seconds,
            name=f"{definition.name}/{config.region}/{instance_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        stack.push_async_callback(_drain, nc)
        js = nc.jetstream()
        tags = [naming.placement_tag(config.region)] if config.placement_by_region else []
        authority = TokenAuthority(config.auth_secret)
        # Every call by a person or an integration is recorded in the region's audit stream
        # (created with the region's stores below); stopped after the servers drained.
        audit = AuditLog(js, config.region)
        watcher = await ConfigWatcher.open(js, replicas=config.stream_replicas)
        runtime = Runtime(
            name=definition.name,
            config=config,
            nc=nc,
            js=js,
            access=AccessControl(authority, region=config.region, audit=audit),
            channel=MeshChannel(
                nc,
                config.region,
                token=ServiceTokens(authority, definition.name),
                default_timeout=config.default_deadline_seconds,
            ),
            events=EventPublisher(js, config.region),
            stack=stack,
            watcher=watcher,
            placement_tags=tags,
        )

        # Every store of the region at the region's retention (the same table and code as the
        # operator's): created or updated before the service builds on them, again on each change.
        stores = RegionStores(js, config.region, placement_tags=tags, replicas=config.stream_replicas)

        async def follow_region(document: ContactCenter | None) -> None:
            runtime.contact_center = document
            generation = document.metadata.generation if document else None
            log.info("region %s: ContactCenter generation %s in effect", config.region, generation)
            if stores.applied is not None:
                try:
                    await stores.apply(_retention_of(document))
                except Exception:  # the stores keep their previous limits; the next change retries
                    log.warning("region %s: retention not applied", config.region, exc_info=True)

        watcher.on_region_change(config.region, follow_region)
        await watcher.start()
        stack.push_async_callback(watcher.stop)
        await stores.apply(_retention_of(runtime.contact_center))
        audit.start()
        stack.push_async_callback(audit.stop, config.shutdown_grace_seconds)
        parts = await definition.build(runtime)
        for hook in parts.on_stop:
            stack.push_async_callback(hook)

        mesh = MeshServer(
            nc,
            region=config.region,
            name=definition.name,
            version=definition.version,
            instance_id=instance_id,
            description=definition.description,
            max_message_bytes=config.max_message_bytes,
            default_deadline_seconds=config.default_deadline_seconds,
        )
        grpc_server = (
            None
            if config.grpc_port < 0
            else GrpcServer(config.grpc_host, config.grpc_port, config.max_message_bytes)
        )
        for servicer, descriptor, register in parts.servicers:
            mesh.add_servicer(servicer, descriptor)
            if grpc_server is not None:
                grpc_server.add_servicer(servicer, descriptor, register)

        started: list[DurableConsumer[Any]] = []
        stack.push_async_callback(_stop_together, started, config.shutdown_grace_seconds)
        for consumer in parts.consumers:
            await consumer.start()
            started.append(consumer)
        grpc_port = await grpc_server.start() if grpc_server is not None else -1
        if grpc_server is not None:
            stack.push_async_callback(grpc_server.stop, config.shutdown_grace_seconds)
        await mesh.start()
        stack.push_async_callback(mesh.stop, config.shutdown_grace_seconds)
        if owns_process:
            # What is alive now (modules, protobuf descriptors, the service's parts: 85,000 to
            # 160,000 objects by service) lives as long as the process. Out of the collector's
            # reach, a full collection walks only what serving made, not all of that each time.
            # Collected first: cyclic garbage start-up left would otherwise be kept for good.
            gc.collect()
            gc.freeze()
        # One machine-readable line on stdout: the launcher and tests read where we listen.
        print(
            orjson.dumps(
                {
                    "ready": definition.name,
                    "region": config.region,
                    "grpc_port": grpc_port,
                    "pid": os.getpid(),
                }
            ).decode(),
            flush=True,
        )
        log.info("serving %s in region %s (gRPC port %s)", definition.name, config.region, grpc_port)
        await stop.wait()
        log.info("stopping: draining in-flight work")
        for hook in parts.on_stopping:
            await hook()
        if grpc_server is not None:
            await grpc_server.set_serving(False)


async def _stop_together(consumers: list[DurableConsumer[Any]], grace_seconds: float) -> None:
    # Each stop waits for its consumer's fetch poll to end; one after the other, a service with
    # five consumers took five polls to stop.
    outcomes = await asyncio.gather(
        *(consumer.stop(grace_seconds) for consumer in reversed(consumers)), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _retention_of(document: ContactCenter | None) -> RetentionPolicy:
    return document.spec.retention.policy() if document is not None else DEFAULT_POLICY


async def _drain(nc: Client) -> None:
    if not nc.is_closed:
        try:
            await nc.drain()
        except Exception:  # already closing or disconnected: nothing left to drain
            log.debug("drain failed", exc_info=True)
