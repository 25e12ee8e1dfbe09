"""The gateway's HTTP side: the app every route group joins, health, and the tenant API.

`POST /v1/tenants/{tenant}/messages` takes one inbound message as JSON and answers with the
contact it joined; it runs the same use case as the gRPC `SubmitInboundMessage`, with the
same bearer-token check. Channel webhooks, the chat widget and the agent workspace add their
routes through `RouteAdder`s; every route passes the edge middleware (spans, JSON access log,
body and rate limits, endpoint lookup). Errors are JSON `{"error": {"code": ..., "message":
...}}` and the message names the bad field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc
from aiohttp import web

from ccmesh.access import AccessControl
from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import ContactStore
from gateway.domain.inbound import InboundMessage
from gateway.entrypoints.edge_middleware import (
    Edge,
    EdgeError,
    EdgeSettings,
    configure_access_log,
    json_error,
)
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked, rpc_failure
from gateway.entrypoints.request_parsing import read_json
from gateway.entrypoints.rpc import SUBMIT_ROLES
from gateway.service_layer.accept_inbound import IdentityClient, accept_inbound
from gateway.service_layer.conversation import Conversations

MAX_BODY_BYTES = 128 * 1024

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


CHANNELS = {
    "sms": common_pb2.CHANNEL_KIND_SMS,
    "voice": common_pb2.CHANNEL_KIND_VOICE,
    "whatsapp": common_pb2.CHANNEL_KIND_WHATSAPP,
    "email": common_pb2.CHANNEL_KIND_EMAIL,
    "webchat": common_pb2.CHANNEL_KIND_WEBCHAT,
    "api": common_pb2.CHANNEL_KIND_API,
}
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
    channel = CHANNELS.get(str(body.get("channel", "")))
    if channel is None:
        raise _invalid(f"channel: must be one of {sorted(CHANNELS)}")
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


class GatewayHttp:
    def __init__(
        self,
        access: AccessControl,
        *,
        region: str,
        store: ContactStore,
        identity: IdentityClient,
        events: EventPublisher,
        directory: ChannelDirectory | None = None,
        conversations: Conversations | None = None,
        accept: AcceptInbound | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        tenant_rate_per_second: float = 200.0,
        tenant_rate_burst: int = 400,
    ) -> None:
        self._access = access
        self._region = region
        self._accept: AcceptInbound = accept or functools.partial(
            accept_inbound,
            region=region,
            store=store,
            identity=identity,
            events=events,
            conversations=conversations,
        )
        self._edge = Edge(
            EdgeSettings(
                region=region,
                max_body_bytes=max_body_bytes,
                tenant_rate_per_second=tenant_rate_per_second,
                tenant_rate_burst=tenant_rate_burst,
            ),
            directory,
        )
        self._max_body_bytes = max_body_bytes

    def app(self, extra_routes: Sequence[RouteAdder] = ()) -> web.Application:
        configure_access_log()
        application = web.Application(
            client_max_size=self._max_body_bytes, middlewares=self._edge.middlewares()
        )
        application.router.add_get("/healthz", self.health)
        application.router.add_post("/v1/tenants/{tenant}/messages", self.submit)
        # Each channel and the workspace add their own routes from their own modules.
        for add_routes in extra_routes:
            add_routes(application)
        return application

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "SERVING", "service": "gateway", "region": self._region})

    async def submit(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        try:
            await self._access.require(_HttpCallContext(request), tenant_id, SUBMIT_ROLES)
        except RpcError as error:
            raise rpc_failure(error) from None
        _, body = await read_json(request)
        accepted, duplicate = await accept_checked(self._accept, parse_message(tenant_id, body))
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
    handler: GatewayHttp, host: str, port: int, extra_routes: Sequence[RouteAdder] = ()
) -> web.AppRunner:
    runner = web.AppRunner(handler.app(extra_routes), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
