"""Wire the gateway's parts from the runtime."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2_grpc
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.provider_receipts import ProviderReceipts
from gateway.bootstrap_outbound import email_parts, outbound_parts
from gateway.bootstrap_voice import voice_parts
from gateway.bootstrap_workspace import workspace_route_adders
from gateway.config import GatewayConfig
from gateway.entrypoints.generic_webhooks import generic_routes
from gateway.entrypoints.http import GatewayHttp, RouteAdder, start_http
from gateway.entrypoints.openapi import openapi_routes
from gateway.entrypoints.pages import page_routes
from gateway.entrypoints.receipts_consumer import receipts_consumer
from gateway.entrypoints.rpc import GatewayServicer
from gateway.entrypoints.twilio_voice import twilio_voice_routes
from gateway.entrypoints.twilio_webhooks import twilio_sms_routes
from gateway.entrypoints.whatsapp_webhooks import whatsapp_routes, whatsapp_status_sink
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.conversation import Conversations


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
    # Journeys and queues for new contacts, waiting journeys fed by later messages (G2).
    conversations = Conversations(
        region=config.region,
        store=store,
        routing=mesh_stub(routing_pb2_grpc.RoutingServiceStub, runtime.channel),
        endpoints=directory,
        events=runtime.events,
    )
    servicer = GatewayServicer(
        runtime.access,
        region=config.region,
        store=store,
        identity=identity,
        events=runtime.events,
        conversations=conversations,
    )
    on_stop: list[Callable[[], Awaitable[None]]] = []
    # Route groups of the channels and the workspace; each module contributes its own adder.
    route_adders: list[RouteAdder] = []
    # The chat widget, agent workspace and supervisor pages.
    route_adders.append(page_routes(directory))
    # Provider webhooks (Twilio SMS and voice, WhatsApp Cloud API, generic signed API): each hands
    # its messages to the same use case as the gRPC and tenant APIs.
    accept = functools.partial(
        accept_inbound,
        region=config.region,
        store=store,
        identity=identity,
        events=runtime.events,
        conversations=conversations,
    )
    route_adders.append(twilio_sms_routes(accept, public_base_url=config.public_base_url))
    # Queued callers put through to the agent who accepts them; Twilio's call status callback (G6).
    voice = voice_parts(runtime, bucket=bucket, store=store, directory=directory)
    route_adders.append(
        twilio_voice_routes(accept, public_base_url=config.public_base_url, bridge=voice.bridge)
    )
    # WhatsApp's delivery reports reach the contact of our message through an index of receipts.
    receipts = ProviderReceipts(bucket)
    route_adders.append(
        whatsapp_routes(accept, statuses=whatsapp_status_sink(config.region, receipts, runtime.events))
    )
    route_adders.append(generic_routes(accept))
    # GET /openapi.json; at start-up it logs any route of the app it does not document.
    route_adders.append(openapi_routes())
    # Web chat socket, agent workspace socket and the supervisor's queue board (G3).
    route_adders.extend(
        workspace_route_adders(runtime, bucket=bucket, store=store, directory=directory, accept=accept)
    )
    # Replies and call backs to customers through their channel's provider: one durable consumer (G2).
    outbound = await outbound_parts(runtime, bucket=bucket, store=store, directory=directory)
    on_stop.extend(outbound.on_stop)
    # Inbound e-mail: the SMTP listener (CC_SMTP_PORT), through the same use case (G2).
    on_stop.extend((await email_parts(runtime, directory=directory, accept=accept)).on_stop)
    if config.http_port >= 0:
        http = GatewayHttp(
            runtime.access,
            region=config.region,
            store=store,
            identity=identity,
            events=runtime.events,
            conversations=conversations,
            directory=directory,
            max_body_bytes=config.http_max_body_bytes,
            tenant_rate_per_second=config.tenant_rate_per_second,
            tenant_rate_burst=config.tenant_rate_burst,
        )
        runner = await start_http(http, config.http_host, config.http_port, route_adders)
        on_stop.append(runner.cleanup)
    return ServiceParts(
        on_stop=on_stop,
        consumers=[
            *outbound.consumers,
            receipts_consumer(runtime.js, config.region, receipts),
            voice.consumer,
        ],
        servicers=[
            (
                servicer,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
            )
        ],
    )
