"""Wire the gateway's parts from the runtime."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import ContactStore
from gateway.config import GatewayConfig
from gateway.entrypoints.http import GatewayHttp, RouteAdder, start_http
from gateway.entrypoints.rpc import GatewayServicer


async def build(runtime: Runtime[GatewayConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.gateway_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )
    store = ContactStore(bucket)
    # Channel endpoints follow `ccctl apply` live; webhooks and the SMTP listener look them up here.
    directory = ChannelDirectory(config.region)

    async def refresh_directory(kind: str, _name: str, _document: object) -> None:
        if kind == "ChannelEndpoint":
            directory.refresh(runtime.watcher.documents("ChannelEndpoint"))

    runtime.watcher.on_change(refresh_directory)
    directory.refresh(runtime.watcher.documents("ChannelEndpoint"))
    identity = mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel)
    servicer = GatewayServicer(
        runtime.access, region=config.region, store=store, identity=identity, events=runtime.events
    )
    on_stop: list[Callable[[], Awaitable[None]]] = []
    # Route groups of the channels and the workspace; each module contributes its own adder.
    route_adders: list[RouteAdder] = []
    if config.http_port >= 0:
        http = GatewayHttp(
            runtime.access, region=config.region, store=store, identity=identity, events=runtime.events
        )
        runner = await start_http(http, config.http_host, config.http_port, route_adders)
        on_stop.append(runner.cleanup)
    return ServiceParts(
        on_stop=on_stop,
        servicers=[
            (
                servicer,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
            )
        ],
    )
