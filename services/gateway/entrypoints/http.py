"""The gateway's HTTP side: the app every route group joins, health, and the tenant API.

`POST /v1/tenants/{tenant}/messages` takes one inbound message as JSON and answers with the
contact it joined; it runs the same use case as the gRPC `SubmitInboundMessage`, with the
same bearer-token check. Channel webhooks, the chat widget and the agent workspace add their
routes through `RouteAdder`s; every route passes the edge middleware (spans, JSON access log,
body and rate limits, endpoint lookup), and the server closes slow and oversized clients
(`edge_server`). Errors are JSON `{"error": {"code": ..., "message":
...}}` and the message names the bad field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc
from aiohttp import web

from ccmesh import channels
from ccmesh.access import AccessControl
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.config import GatewayConfig
from gateway.domain.inbound import InboundMessage
from gateway.entrypoints.edge_access_log import configure_access_log
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import Edge, EdgeError, EdgeSettings, json_error
from gateway.entrypoints.edge_server import ServerLimits, start_server
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked, rpc_failure
from gateway.entrypoints.request_parsing import read_json
from gateway.entrypoints.rpc import SUBMIT_ROLES
from gateway.entrypoints.socket_session import OPEN_SOCKETS, OpenSockets
from gateway.service_layer.api_entry import EntryPointError, enter_through

#: Registers a group of routes (a channel's webhooks, the workspace) on the gateway's app.
RouteAdder = Callable[[web.Application], None]


def error_response(code: grpc.StatusCode, message: str) -> web.Response:
    """An RPC status as the edge's JSON error (kept for route modules that call services)."""
    failure = rpc_failure(RpcError(code, message))
    return json_error(failure.status, failure.code, failure.message, failure.headers)


class _HttpCallContext:
    """Lets `AccessControl` read the bearer token from HTTP headers, as from gRPC metadata."""

    def __init__(self, request: web.Request) -> None:
        self._request = request

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [(key.lower(), value) for key, value in self._request.headers.items()]

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise RpcError(code, details)


#: The same, for route modules that check their callers with `AccessControl`.
HttpCallContext = _HttpCallContext

IDENTIFIERS = {
    "phone": common_pb2.IDENTIFIER_KIND_PHONE,
    "email": common_pb2.IDENTIFIER_KIND_EMAIL,
    "whatsapp_id": common_pb2.IDENTIFIER_KIND_WHATSAPP_ID,
    "webchat_visitor_id": common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
    "crm_external_id": common_pb2.IDENTIFIER_KIND_CRM_EXTERNAL_ID,
}
_FIELDS = {"brand", "channel", "from", "entryPoint", "text", "providerMessageId"}


def _invalid(message: str) -> EdgeError:
    return EdgeError(400, "INVALID_ARGUMENT", message)


def parse_message(tenant_id: str, body: Any) -> InboundMessage:
    if not isinstance(body, dict):
        raise _invalid("body: must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"body: unknown field(s) {[name[:100] for name in unknown[:20]]}")
    sender = body.get("from")
    if not isinstance(sender, dict) or set(sender) != {"kind", "value"}:
        raise _invalid('from: must be {"kind": ..., "value": ...}')
    try:
        channel = channels.to_kind(channels.parse(body.get("channel", "")))
    except channels.UnknownChannelError as error:
        raise _invalid(str(error)) from None
    kind = IDENTIFIERS.get(str(sender["kind"]))
    if kind is None:
        raise _invalid(f"from.kind: must be one of {sorted(IDENTIFIERS)}")
    for field in ("text", "providerMessageId", "entryPoint", "brand"):
        if field in body and not isinstance(body[field], str):
            raise _invalid(f"{field}: must be a string")
    if not isinstance(sender["value"], str):
        raise _invalid("from.value: must be a string")
    return InboundMessage(
        tenant_id=tenant_id,
        brand_id=body.get("brand", ""),
        channel=channel,
        from_kind=kind,
        from_value=sender["value"],
        entry_point=body.get("entryPoint", ""),
        text=body.get("text", ""),
        provider_message_id=body.get("providerMessageId", ""),
    )


def edge_settings(config: GatewayConfig) -> EdgeSettings:
    return EdgeSettings(
        region=config.region,
        max_body_bytes=config.http_max_body_bytes,
        tenant_rate_per_second=config.tenant_rate_per_second,
        tenant_rate_burst=config.tenant_rate_burst,
        unverified_per_second=config.http_unverified_per_second,
        unverified_burst=config.http_unverified_burst,
        body_read_seconds=config.http_body_seconds,
    )


def server_limits(config: GatewayConfig) -> ServerLimits:
    return ServerLimits(
        idle_seconds=config.http_idle_seconds,
        max_line_bytes=config.http_max_line_bytes,
        max_field_bytes=config.http_max_field_bytes,
        max_headers=config.http_max_headers,
    )


class GatewayHttp:
    def __init__(
        self,
        access: AccessControl,
        *,
        edge: EdgeSettings,
        accept: AcceptInbound,
        directory: ChannelDirectory | None = None,
        default_entry_point: Callable[[str], str] = lambda _tenant: "",
    ) -> None:
        self._access = access
        self._region = edge.region
        self._directory = directory
        # The tenant's `defaultEntryPoint` (ContactCenter) for API messages that name none.
        self._default_entry_point = default_entry_point
        # The one inbound use case, bound in bootstrap (shared with gRPC and the webhooks).
        self._accept = accept
        self._edge = Edge(edge, directory)
        self._max_body_bytes = edge.max_body_bytes
        #: The chat and workspace sockets, told 1001 (going away) when the gateway stops.
        self.sockets = OpenSockets()

    def app(self, extra_routes: Sequence[RouteAdder] = ()) -> web.Application:
        configure_access_log()
        application = web.Application(
            client_max_size=self._max_body_bytes, middlewares=self._edge.middlewares()
        )
        application[OPEN_SOCKETS] = self.sockets
        application.on_shutdown.append(self._close_sockets)
        application.router.add_get("/healthz", self.health)
        application.router.add_post("/v1/tenants/{tenant}/messages", self.submit)
        # Each channel and the workspace add their own routes from their own modules.
        for add_routes in extra_routes:
            add_routes(application)
        return application

    async def _close_sockets(self, _: web.Application) -> None:
        await self.sockets.close_all()

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "SERVING", "service": "gateway", "region": self._region})

    @verifies_caller
    async def submit(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        try:
            await self._access.require(_HttpCallContext(request), tenant_id, SUBMIT_ROLES)
        except RpcError as error:
            raise rpc_failure(error) from None
        admit_verified(request)
        _, body = await read_json(request)
        message = parse_message(tenant_id, body)
        if self._directory is not None:
            try:
                message = enter_through(
                    message, endpoints=self._directory, default_entry_point=self._default_entry_point
                )
            except EntryPointError as error:
                raise _invalid(str(error)) from None
        accepted, duplicate = await accept_checked(self._accept, message)
        return web.json_response(
            {
                "contactId": accepted.contact_id,
                "messageId": accepted.message_id,
                "customerId": accepted.customer_id,
                "duplicate": duplicate,
                "contactCreated": accepted.contact_created and not duplicate,
            },
            status=200 if duplicate else 201,
        )


async def start_http(
    handler: GatewayHttp,
    host: str,
    port: int,
    extra_routes: Sequence[RouteAdder] = (),
    limits: ServerLimits = ServerLimits(),
) -> web.AppRunner:
    return await start_server(handler.app(extra_routes), host, port, limits)
