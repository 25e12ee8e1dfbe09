"""`GET /v1/tenants/{tenant}/queues[?queue=<name>]`: the supervisor's board as JSON (bearer token,
supervisor or admin); a queue-scoped supervisor sees its queues only, and naming another queue is
a 403 PERMISSION_DENIED.

The same numbers the workspace socket pushes after `subscribe_queues` (docs/websocket-api.md).
"""

from __future__ import annotations

from typing import NoReturn

import grpc
from aiohttp import web

from ccmesh.access import AccessControl
from ccmesh.status import RpcError
from gateway.domain.workspace_state import SUPERVISOR_ROLES
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.http import RouteAdder, error_response
from gateway.service_layer.queue_board import QueueBoard


class _BearerHeaders:
    """Lets `AccessControl` read the bearer token from the request's headers."""

    def __init__(self, request: web.Request) -> None:
        self._request = request

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [(key.lower(), value) for key, value in self._request.headers.items()]

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise RpcError(code, details)


def supervisor_routes(access: AccessControl, board: QueueBoard) -> RouteAdder:
    @verifies_caller
    async def queues(request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        try:
            context = _BearerHeaders(request)
            caller = await access.require(context, tenant_id, SUPERVISOR_ROLES)
            admit_verified(request)
            # `?queue=<name>`: that queue's board alone, refused outside the caller's queues.
            asked = request.query.get("queue", "")
            if asked:
                await access.require_queue(context, caller, asked)
            queues = [asked] if asked else sorted(caller.queues)
            return web.json_response(await board.board(tenant_id, caller.brands, queues))
        except RpcError as error:
            return error_response(error.code, error.message)

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/tenants/{tenant}/queues", queues)

    return add
