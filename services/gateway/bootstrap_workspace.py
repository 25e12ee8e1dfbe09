"""Wire the web chat socket, the agent workspace socket and the supervisor API (bootstrap level).

Kept apart from bootstrap.py so the gateway's main wiring stays one screen; it needs the same
runtime parts (the contact store, the endpoint directory, the inbound use case) and adds the
routing and ai stubs only the workspace uses.
"""

from __future__ import annotations

from nats.js.kv import KeyValue

from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime
from contactcenter.ai.v1 import ai_pb2_grpc
from contactcenter.gateway.v1 import gateway_pb2_grpc
from contactcenter.identity.v1 import identity_pb2_grpc
from contactcenter.integration.v1 import integration_pb2_grpc
from contactcenter.routing.v1 import routing_pb2_grpc
from gateway.adapters.callback_failures import CallbackFailures
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_events import StreamHistory
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.event_codec import StreamEvents
from gateway.adapters.workspace_store import WorkspaceStore
from gateway.config import GatewayConfig
from gateway.domain.visitor_token import visitor_key
from gateway.entrypoints.agent_feed import WorkspaceSettings
from gateway.entrypoints.agent_socket import agent_routes
from gateway.entrypoints.analytics_reports_api import report_routes
from gateway.entrypoints.customer_api import customer_routes
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.socket_session import SocketLimits
from gateway.entrypoints.supervisor_api import supervisor_routes
from gateway.entrypoints.webchat_socket import webchat_routes
from gateway.service_layer.accept_inbound import AcceptInbound
from gateway.service_layer.queue_board import QueueBoard
from gateway.service_layer.queued_callbacks import QueuedCallbacks
from gateway.service_layer.webchat import WebchatService
from gateway.service_layer.workspace import Workspace


def workspace_route_adders(
    runtime: Runtime[GatewayConfig],
    *,
    bucket: KeyValue,
    store: ContactStore,
    directory: ChannelDirectory,
    accept: AcceptInbound,
) -> list[RouteAdder]:
    config = runtime.config
    identity = mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel)
    routing = mesh_stub(routing_pb2_grpc.RoutingServiceStub, runtime.channel)
    ai = mesh_stub(ai_pb2_grpc.AiServiceStub, runtime.channel)
    sockets = WorkspaceStore(bucket)
    limits = SocketLimits(
        idle_seconds=config.socket_idle_seconds,
        messages_per_second=config.socket_messages_per_second,
        burst=max(1, int(config.socket_messages_per_second * 2)),
        per_tenant=config.socket_connections_per_tenant,
    )
    # Both sockets read a contact's history from the region's stream.
    history = StreamHistory(runtime.js, config.region)
    events = StreamEvents(runtime.events)
    webchat = WebchatService(
        region=config.region,
        history=history,
        visitor_key=visitor_key(config.auth_secret),
        accept=accept,
        workspace=sockets,
        contacts=store,
        identity=identity,
        endpoints=directory,
        events=events,
        callbacks=QueuedCallbacks(contacts=store, routing=routing, endpoints=directory),
    )
    workspace = Workspace(
        region=config.region,
        history=history,
        events=events,
        routing=routing,
        identity=identity,
        ai=ai,
        store=sockets,
        contacts=store,
        home_gateways=mesh_stub(gateway_pb2_grpc.GatewayServiceStub, runtime.channel),
    )
    settings = WorkspaceSettings(
        config.region,
        limits,
        heartbeat_seconds=config.agent_heartbeat_seconds,
        offer_timeout_seconds=config.agent_offer_timeout_seconds,
    )
    # Queues from routing, the agent roster from identity, days in the region's time zone.
    board = QueueBoard(
        routing,
        identity,
        time_zone=lambda: runtime.contact_center.spec.time_zone if runtime.contact_center else "UTC",
        failed_callbacks=CallbackFailures(bucket),
    )
    return [
        webchat_routes(webchat, directory, runtime.nc, config.region, limits),
        agent_routes(workspace, board, runtime.access, runtime.nc, settings),
        supervisor_routes(runtime.access, board),
        # The customer view: identity is asked with the asking person's own token.
        customer_routes(
            runtime.access,
            lambda token: mesh_stub(identity_pb2_grpc.IdentityServiceStub, runtime.channel.with_token(token)),
        ),
        # The reports page: this region's analytics store, asked with the supervisor's own token.
        report_routes(
            runtime.access,
            lambda token: mesh_stub(
                integration_pb2_grpc.IntegrationServiceStub, runtime.channel.with_token(token)
            ),
        ),
    ]
