"""The region under test: started as `ccctl up` starts it (free ports, a temporary data
directory), plus what the bench adds through the platform's own APIs: a generic provider
endpoint with a rate limit that does not throttle, a queue of its own, and agents."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from bench.platform.meters import cpu_seconds
from ccctl.launcher import LaunchPlan, Platform, auth_secret, bring_up, stop
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import free_port
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.testing.topologies import Topology
from contactcenter.identity.v1 import identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu"
TENANT = "acme"
BRAND = "acme-retail"
QUEUE = "bench"
ENDPOINT = "bench-platform"
SIGNING_SECRET = "bench-platform-signing-" + "s" * 16

ENDPOINT_DOCUMENT = {
    "apiVersion": "contactcenter.dev/v1alpha1",
    "kind": "ChannelEndpoint",
    "metadata": {"name": ENDPOINT},
    "spec": {
        "region": REGION,
        "tenant": TENANT,
        "brand": BRAND,
        "channel": "api",
        "provider": "generic",
        "address": "bench-platform",
        "queue": QUEUE,
        "generic": {"signingSecret": SIGNING_SECRET},
        "rateLimit": {"perSecond": 100000, "burst": 100000},
    },
}

#: Sampler settings by the name the bench is given; "default" leaves `ccctl up`'s own default.
SAMPLERS: dict[str, dict[str, str]] = {
    "default": {},
    "always_off": {"OTEL_TRACES_SAMPLER": "always_off"},
    "always_on": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


@dataclass
class BenchRegion:
    platform: Platform
    secret: str
    nc: NATS
    #: The JetStream cluster the region runs on, when not on `ccctl up`'s own single server.
    cluster: Topology | None = None

    @property
    def nats_urls(self) -> list[str]:
        return self.cluster.urls if self.cluster is not None else [self.platform.nats_url]

    @property
    def webhook_url(self) -> str:
        return f"{self.platform.http_url()}/v1/generic/{ENDPOINT}/messages"

    @property
    def agent_socket_url(self) -> str:
        return self.platform.http_url().replace("http://", "ws://") + "/v1/agent/ws"

    @property
    def monitor_port(self) -> int:
        return self.platform.plan.nats_monitor_port

    def authority(self) -> TokenAuthority:
        return TokenAuthority(self.secret)

    def mesh(self) -> MeshChannel:
        token = self.authority().mint(TENANT, "admin", "bench-platform", 4 * 3600)
        return MeshChannel(self.nc, REGION, token=token, default_timeout=10.0)

    def routing(self) -> routing_pb2_grpc.RoutingServiceStub:
        return mesh_stub(routing_pb2_grpc.RoutingServiceStub, self.mesh())  # type: ignore[no-any-return]

    def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return mesh_stub(identity_pb2_grpc.IdentityServiceStub, self.mesh())  # type: ignore[no-any-return]

    def processes(self) -> dict[str, int]:
        """pid by a stable name: each service (`routing`, `routing-2`...), nats-server, sandbox."""
        found: dict[str, int] = {}
        for service in self.platform.services:
            suffix = "" if service.replica == 1 else f"-{service.replica}"
            found[f"{service.name}{suffix}"] = service.process.pid
        if self.platform.nats is not None and self.platform.nats.pid is not None:
            found["nats-server"] = self.platform.nats.pid
        for server in self.cluster.servers if self.cluster is not None else []:
            if server.pid is not None:
                found[f"nats-server-{server.spec.name}"] = server.pid
        if self.platform.sandbox is not None:
            found["sandbox"] = self.platform.sandbox.process.pid
        return found

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid, descendants=True) for name, pid in self.processes().items()}


async def start_region(
    data_dir: Path,
    sampler: str,
    socket_messages_per_second: int,
    *,
    replicas: Mapping[str, int] | None = None,
    cluster: Topology | None = None,
    environment: Mapping[str, str] | None = None,
) -> BenchRegion:
    """The region as `ccctl up` starts it; on `cluster` (servers tagged `region:<REGION>`, owned by
    the region from here on) instead of its own nats-server when given. `environment` goes to
    every service (e.g. `CC_STREAM_REPLICAS`), `replicas` as `ccctl up --replicas`."""
    first = cluster.servers[0].spec if cluster is not None else None
    plan = LaunchPlan(
        data_dir=data_dir,
        regions=[REGION],
        examples_dir=ROOT / "examples",
        nats_port=first.port if first else free_port(),
        nats_monitor_port=first.http_port if first else free_port(),
        grpc_base_port=0,
        gateway_http_port=free_port(),
        gateway_smtp_port=free_port(),
        ready_timeout=180,
        replicas=dict(replicas or {}),
    )
    (plan.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    secret = auth_secret(plan.data_dir)
    platform = Platform(plan)
    # The services inherit this process's environment, as they inherit a user's shell under `ccctl up`.
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        os.environ.pop(name, None)
    os.environ.update(SAMPLERS[sampler])
    # A bench agent answers far faster than a person; the socket's flood limit is for people.
    os.environ["CC_SOCKET_MESSAGES_PER_SECOND"] = str(socket_messages_per_second)
    os.environ.update(environment or {})
    try:
        await bring_up(platform, secret, start_nats_server=cluster is None)
        # Every server of a cluster: the bench's own connection outlives the loss of any one.
        urls = cluster.urls if cluster is not None else [platform.nats_url]
        nc = await nats.connect(
            urls, name="bench-platform", max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        region = BenchRegion(platform, secret, nc, cluster)
        store = await ConfigStore.open(nc.jetstream())
        await store.apply(validate_document(ENDPOINT_DOCUMENT))
        await region.routing().ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=routing_pb2.QueueDefinition(name=QUEUE, brand=BRAND, language="any"),
            )
        )
    except BaseException:
        # The data directory is temporary: show why a service stopped before it is gone.
        for service in platform.services:
            if service.process.poll() is not None and service.log_file.exists():
                tail = service.log_file.read_text(errors="replace").splitlines()[-25:]
                print(f"--- {service.log_file.name} (exited)", *tail, sep="\n", file=sys.stderr)
        # A region that did not come up leaves nothing running behind it.
        stop(platform)
        if cluster is not None:
            cluster.stop_all()
        raise
    return region


async def stop_region(region: BenchRegion) -> None:
    try:
        await region.nc.close()
    finally:
        stop(region.platform)
        if region.cluster is not None:
            region.cluster.stop_all()
