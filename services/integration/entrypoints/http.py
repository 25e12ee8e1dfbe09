"""The inbound actions API over HTTPS: the same servicer methods, the same tenant and role check.

    POST /v1/tenants/<tenant>/actions/update-attributes   UpdateAttributesRequest as proto3 JSON
    POST /v1/tenants/<tenant>/actions/flow-events         SendFlowEventRequest
    POST /v1/tenants/<tenant>/actions/tasks               CreateTaskRequest
    POST /v1/tenants/<tenant>/actions/close-contact       CloseContactRequest
    Authorization: Bearer <integration-role token>
    Idempotency-Key: <caller's key>            (or header.idempotencyKey in the body)

The reply is the response message as proto3 JSON. gRPC status codes map to HTTP ones
(INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, ALREADY_EXISTS 409, ...);
errors are `{"code": "<GRPC_CODE>", "message": "..."}`. TLS is required unless the service runs
in local mode.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import orjson
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from contactcenter.integration.v1 import integration_pb2
from integration.entrypoints.rpc import IntegrationServicer

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
MAX_BODY_BYTES = 256 * 1024


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _HttpContext:
    """What the servicer needs from a call context, for an HTTP request."""

    def __init__(self, authorization: str) -> None:
        self._metadata = (("authorization", authorization),) if authorization else ()

    def invocation_metadata(self) -> Any:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str = "", /) -> Any:
        raise _Aborted(code, details)


Method = Callable[[Any, Any], Awaitable[Message]]


def _routes(servicer: IntegrationServicer) -> dict[str, tuple[type[Message], Method]]:
    return {
        "update-attributes": (integration_pb2.UpdateAttributesRequest, servicer.UpdateAttributes),
        "flow-events": (integration_pb2.SendFlowEventRequest, servicer.SendFlowEvent),
        "tasks": (integration_pb2.CreateTaskRequest, servicer.CreateTask),
        "close-contact": (integration_pb2.CloseContactRequest, servicer.CloseContact),
    }


def _error(code: grpc.StatusCode, message: str) -> web.Response:
    return web.json_response(
        {"code": code.name, "message": message}, status=_HTTP_STATUS.get(code, 500), dumps=_dumps
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def build_app(servicer: IntegrationServicer) -> web.Application:
    routes = _routes(servicer)

    async def act(request: web.Request) -> web.Response:
        route = routes.get(request.match_info["action"])
        if route is None:
            known = ", ".join(sorted(routes))
            return _error(grpc.StatusCode.NOT_FOUND, f"unknown action; known actions: {known}")
        message_type, method = route
        raw = await request.read()
        try:
            message = json_format.Parse(raw or b"{}", message_type())
        except json_format.ParseError as error:
            return _error(
                grpc.StatusCode.INVALID_ARGUMENT, f"body is not a valid {message_type.__name__}: {error}"
            )
        header = message.header  # type: ignore[attr-defined]
        tenant = request.match_info["tenant"]
        if header.tenant_id and header.tenant_id != tenant:
            return _error(
                grpc.StatusCode.INVALID_ARGUMENT, "header.tenantId differs from the tenant in the path"
            )
        header.tenant_id = tenant
        key = request.headers.get("Idempotency-Key", "")
        if key and header.idempotency_key and key != header.idempotency_key:
            return _error(
                grpc.StatusCode.INVALID_ARGUMENT, "Idempotency-Key differs from header.idempotencyKey"
            )
        header.idempotency_key = header.idempotency_key or key
        try:
            reply = await method(message, _HttpContext(request.headers.get("Authorization", "")))
        except _Aborted as aborted:
            return _error(aborted.code, aborted.message)
        return web.json_response(json_format.MessageToDict(reply), dumps=_dumps)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/tenants/{tenant}/actions/{action}", act)
    return app


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class ActionsHttpServer:
    def __init__(
        self, servicer: IntegrationServicer, host: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        self._app = build_app(servicer)
        self._host = host
        self._port = port
        self._tls = tls
        self._runner: web.AppRunner | None = None
        self.port = -1

    async def start(self) -> int:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._tls)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
