"""The gateway's HTTP side: health, and the generic provider API (JSON over HTTPS).

`POST /v1/tenants/{tenant}/messages` takes one inbound message as JSON and answers with the
contact it joined; it runs the same use case as the gRPC `SubmitInboundMessage`, with the
same bearer-token check. Errors are JSON `{"error": {"code": ..., "message": ...}}` with the
HTTP status that matches the gRPC code, and the message names the bad field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc
import orjson
from aiohttp import web

from ccmesh.access import AccessControl
from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from gateway.adapters.contact_store import ContactStore, StillProcessing
from gateway.domain.inbound import InboundMessage, validate
from gateway.entrypoints.rpc import SUBMIT_ROLES
from gateway.service_layer.accept_inbound import IdentityClient, accept_inbound

MAX_BODY_BYTES = 128 * 1024

#: Registers a group of routes (a channel's webhooks, the workspace) on the gateway's app.
RouteAdder = Callable[[web.Application], None]

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


def error_response(code: grpc.StatusCode, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code.name, "message": message}},
        status=_HTTP_STATUS.get(code, 500),
        dumps=lambda value: orjson.dumps(value).decode(),
    )


class _HttpCallContext:
    """Lets `AccessControl` read the bearer token from HTTP headers, as from gRPC metadata."""

    def __init__(self, request: web.Request) -> None:
        self._request = request

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [(key.lower(), value) for key, value in self._request.headers.items()]

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise RpcError(code, details)


_CHANNELS = {
    "sms": common_pb2.CHANNEL_KIND_SMS,
    "voice": common_pb2.CHANNEL_KIND_VOICE,
    "whatsapp": common_pb2.CHANNEL_KIND_WHATSAPP,
    "email": common_pb2.CHANNEL_KIND_EMAIL,
    "webchat": common_pb2.CHANNEL_KIND_WEBCHAT,
    "api": common_pb2.CHANNEL_KIND_API,
}
_IDENTIFIERS = {
    "phone": common_pb2.IDENTIFIER_KIND_PHONE,
    "email": common_pb2.IDENTIFIER_KIND_EMAIL,
    "whatsapp_id": common_pb2.IDENTIFIER_KIND_WHATSAPP_ID,
    "webchat_visitor_id": common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
    "crm_external_id": common_pb2.IDENTIFIER_KIND_CRM_EXTERNAL_ID,
}


def parse_message(tenant_id: str, body: Any) -> InboundMessage:
    if not isinstance(body, dict):
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "body: must be a JSON object")
    unknown = sorted(set(body) - {"brand", "channel", "from", "entryPoint", "text", "providerMessageId"})
    if unknown:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"body: unknown field(s) {unknown}")
    sender = body.get("from")
    if not isinstance(sender, dict) or set(sender) != {"kind", "value"}:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, 'from: must be {"kind": ..., "value": ...}')
    channel = _CHANNELS.get(str(body.get("channel", "")))
    if channel is None:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"channel: must be one of {sorted(_CHANNELS)}")
    kind = _IDENTIFIERS.get(str(sender["kind"]))
    if kind is None:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"from.kind: must be one of {sorted(_IDENTIFIERS)}")
    for field in ("text", "providerMessageId", "entryPoint", "brand"):
        if field in body and not isinstance(body[field], str):
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: must be a string")
    if not isinstance(sender["value"], str):
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "from.value: must be a string")
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
    ) -> None:
        self._access = access
        self._region = region
        self._store = store
        self._identity = identity
        self._events = events

    def app(self, extra_routes: Sequence[RouteAdder] = ()) -> web.Application:
        application = web.Application(client_max_size=MAX_BODY_BYTES)
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
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as error:
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"body: not valid JSON ({error})") from None
            message = parse_message(tenant_id, body)
            problems = validate(message)
            if problems:
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(problems))
            try:
                accepted, duplicate = await accept_inbound(
                    message,
                    region=self._region,
                    store=self._store,
                    identity=self._identity,
                    events=self._events,
                )
            except StillProcessing as error:
                raise RpcError(grpc.StatusCode.ABORTED, f"{error}; retry shortly") from None
        except web.HTTPRequestEntityTooLarge:
            return error_response(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"body larger than {MAX_BODY_BYTES} bytes"
            )
        except RpcError as error:
            return error_response(error.code, error.message)
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
