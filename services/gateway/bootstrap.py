"""Wire the gateway's parts from the runtime."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.presence import Presence
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2_grpc
from gateway.adapters.ai_language import AiLanguage
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_events import StreamHistory
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.crossing_relay import CrossingRelays
from gateway.adapters.event_codec import StreamEvents
from gateway.adapters.provider_receipts import ProviderReceipts
from gateway.adapters.recording_store import ProviderRecordings, RecordingBucket, RecordingEvents
from gateway.adapters.tenant_settings import TenantSettings
from gateway.bootstrap_outbound import email_parts, outbound_parts
from gateway.bootstrap_voice import voice_parts
from gateway.bootstrap_workspace import workspace_route_adders
from gateway.config import GatewayConfig
from gateway.entrypoints.generic_webhooks import generic_routes
from gateway.entrypoints.http import GatewayHttp, RouteAdder, edge_settings, server_limits, start_http
from gateway.entrypoints.journey_steps_consumer import journey_steps_consumer
from gateway.entrypoints.openapi import openapi_routes
from gateway.entrypoints.pages import page_routes
from gateway.entrypoints.receipts_consumer import receipts_consumer
from gateway.entrypoints.rpc import GatewayServicer
from gateway.entrypoints.twilio_media import twilio_media_routes
from gateway.entrypoints.twilio_media_relay import MediaRelay
from gateway.entrypoints.twilio_recording import twilio_recording_routes
from gateway.entrypoints.twilio_voice import twilio_voice_routes
from gateway.entrypoints.twilio_webhooks import twilio_sms_routes
from gateway.entrypoints.whatsapp_webhooks import whatsapp_routes, whatsapp_status_sink
from gateway.service_layer.accept_inbound import AcceptInbound, accept_inbound
from gateway.service_layer.back_pressure import EdgeAdmission
from gateway.service_layer.consent_gate import ConsentGate
from gateway.service_layer.conversation import Conversations
from gateway.service_layer.handed_over import HandedOverContacts
from gateway.service_layer.queued_callbacks import QueuedCallbacks
from gateway.service_layer.recordings import KeepRecording


async def build(runtime: Runtime[GatewayConfig]) -> ServiceParts:
    config = runtime.config
    bucket = await ensure_bucket(
        runtime.js,
        naming.gateway_bucket(config.region),
        placement_tags=runtime.placement_tags,
        replicas=config.stream_replicas,
    )

    def finished_ttl() -> int:
        return runtime.finished_ttl("gateway")

    # Answers "still there?" for the provider messages this process claims, from before the first
    # claim until the HTTP edge has drained (first of `on_stop`, so it stops last).
    presence = Presence(runtime.nc)
    await presence.start()
    store = ContactStore(
        bucket, finished_ttl=finished_ttl, holders=presence, claim_expiry=config.claim_expiry_seconds
    )
    # Channel endpoints follow `ccctl apply` live; webhooks and the SMTP listener look them up here.
    directory = ChannelDirectory(config.region)

    async def refresh_directory(kind: str, _name: str, _document: object) -> None:
        if kind == "ChannelEndpoint":
            directory.refresh(runtime.watcher.documents("ChannelEndpoint"))

    runtime.watcher.on_change(refresh_directory)
    directory.refresh(runtime.watcher.documents("ChannelEndpoint"))
    identity = mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel)
    routing = mesh_stub(routing_pb2_grpc.RoutingServiceStub, runtime.channel)
    tenant_settings = TenantSettings(runtime.watcher, config.region)
    # The use cases publish domain events; this turns each into its protobuf on the region's stream.
    events = StreamEvents(runtime.events)
    # Compliance at the edge: consent before a call is transcribed, withdrawal keywords, and the
    # consent a journey's conditions read.
    consent = ConsentGate(
        identity=identity,
        events=events,
        policy=runtime.policy_check("gateway"),
    )
    # Journeys and queues for new contacts, waiting journeys fed by later messages.
    conversations = Conversations(
        region=config.region,
        store=store,
        routing=routing,
        endpoints=directory,
        events=events,
        language_of=AiLanguage(runtime.channel),
        # Back-pressure: the tenants' ceilings of waiting contacts against routing's queue report.
        admission=EdgeAdmission(routing, tenant_settings.back_pressure),
        callbacks=QueuedCallbacks(
            contacts=store,
            routing=routing,
            endpoints=directory,
            profiles=mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel),
        ),
        consent_of=consent.consent_of,
    )
    # The inbound use case, bound once: the gRPC and tenant APIs, every provider webhook, the
    # SMTP listener and the web chat socket hand their messages to this one instance.
    accept: AcceptInbound = functools.partial(
        accept_inbound,
        region=config.region,
        store=store,
        identity=identity,
        events=events,
        conversations=conversations,
        consent=consent,
    )
    # Follow-the-sun: other regions' agents read and answer contacts homed here through this one;
    # its live events reach them relayed as the region's rules let them leave.
    relays = CrossingRelays(runtime.nc, config.region)
    handed_over = HandedOverContacts(
        region=config.region,
        history=StreamHistory(runtime.js, config.region),
        events=events,
        identity=identity,
        contacts=store,
        policy=consent.policy,
        relays=relays,
    )
    servicer = GatewayServicer(runtime.access, accept=accept, handed_over=handed_over)
    on_stop: list[Callable[[], Awaitable[None]]] = [presence.stop, relays.close]
    on_stopping: list[Callable[[], Awaitable[None]]] = []
    # Route groups of the channels and the workspace; each module contributes its own adder.
    route_adders: list[RouteAdder] = []
    # The chat widget, agent workspace and supervisor pages.
    route_adders.append(page_routes(directory))
    # Provider webhooks (Twilio SMS and voice, WhatsApp Cloud API, generic signed API).
    route_adders.append(twilio_sms_routes(accept, public_base_url=config.public_base_url))
    # Queued callers put through to the agent who accepts them; Twilio's call status callback.
    voice = voice_parts(runtime, bucket=bucket, store=store, directory=directory)
    route_adders.append(
        twilio_voice_routes(
            accept,
            public_base_url=config.public_base_url,
            bridge=voice.bridge,
            media_streams=config.voice_media_streams,
            consent=consent,
        )
    )
    route_adders.append(twilio_media_routes(MediaRelay(runtime.nc, config.region)))
    # Twilio's recording status callbacks: completed recordings kept in the region's object store.
    provider_recordings = ProviderRecordings()
    on_stop.append(provider_recordings.close)
    recording_bucket = await RecordingBucket.open(
        runtime.js, config.region, placement_tags=runtime.placement_tags, replicas=config.stream_replicas
    )
    keep_recording = KeepRecording(provider_recordings, recording_bucket, RecordingEvents(runtime.events))
    route_adders.append(twilio_recording_routes(keep_recording, public_base_url=config.public_base_url))
    # WhatsApp's delivery reports reach the contact of our message through an index of receipts.
    receipts = ProviderReceipts(bucket, finished_ttl)
    route_adders.append(
        whatsapp_routes(accept, statuses=whatsapp_status_sink(config.region, receipts, events))
    )
    route_adders.append(generic_routes(accept))
    # GET /openapi.json; at start-up it logs any route of the app it does not document.
    route_adders.append(openapi_routes())
    # Web chat socket, agent workspace socket and the supervisor's queue board.
    route_adders.extend(
        workspace_route_adders(runtime, bucket=bucket, store=store, directory=directory, accept=accept)
    )
    # Replies and call backs to customers through their channel's provider: one durable consumer.
    outbound = await outbound_parts(
        runtime, bucket=bucket, store=store, directory=directory, policy=consent.policy
    )
    on_stop.extend(outbound.on_stop)
    # Inbound e-mail: the SMTP listener (CC_SMTP_PORT), through the same use case.
    on_stop.extend((await email_parts(runtime, directory=directory, accept=accept)).on_stop)
    if config.http_port >= 0:
        http = GatewayHttp(
            runtime.access,
            edge=edge_settings(config),
            accept=accept,
            directory=directory,
            default_entry_point=tenant_settings.default_entry_point,
        )
        runner = await start_http(
            http, config.http_host, config.http_port, route_adders, server_limits(config)
        )
        on_stop.append(runner.cleanup)
        # Sockets hear 1001 the moment a stop is asked, not after the mesh has drained.
        on_stopping.append(http.sockets.close_all)
    return ServiceParts(
        on_stop=on_stop,
        on_stopping=on_stopping,
        consumers=[
            *outbound.consumers,
            receipts_consumer(runtime.js, config.region, receipts),
            # Journey steps routing ran by itself (flow events, timeouts): their prompts.
            journey_steps_consumer(runtime.js, config.region, conversations),
            voice.consumer,
            voice.callbacks,
        ],
        servicers=[
            (
                servicer,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
            )
        ],
    )
