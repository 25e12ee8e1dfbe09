"""The generic provider API: `POST /v1/generic/{endpoint}/messages`, signed with HMAC-SHA256.

For providers we do not support by name. The body is JSON `{"from": {"kind", "value"},
"text", "providerMessageId", "channel"?}`; the provider signs `<X-CC-Timestamp>.<raw body>`
with the endpoint's signing secret and sends `X-CC-Signature: sha256=<hex>`. A timestamp more
than five minutes away from our clock is refused, so a captured request cannot be replayed.
"""

from __future__ import annotations

import time

from aiohttp import web

from ccmesh.channels import Channel
from gateway.domain.generic_signature import signature_problem
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder, parse_message
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked
from gateway.entrypoints.request_parsing import JSON, parse_json, require_channel, require_content_type

#: Fields the endpoint decides, not the provider.
_SET_BY_ENDPOINT = ("entryPoint", "brand")


def generic_routes(accept: AcceptInbound) -> RouteAdder:
    @verifies_caller
    async def messages(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.API)
        require_content_type(request, JSON)
        body = await request.read()
        credentials = endpoint.spec.generic
        problem = (
            signature_problem(
                credentials.signing_secret,
                request.headers.get("X-CC-Timestamp"),
                request.headers.get("X-CC-Signature"),
                body,
                now=time.time(),
            )
            if credentials is not None
            else "endpoint has no signing secret"
        )
        if problem:
            raise EdgeError(401, "UNAUTHENTICATED", problem)
        admit_verified(request)
        document = parse_json(body)
        if isinstance(document, dict):
            fixed = [name for name in _SET_BY_ENDPOINT if name in document]
            if fixed:
                raise EdgeError(
                    400, "INVALID_ARGUMENT", f"body: {fixed} are set by the endpoint, not the provider"
                )
            document = {
                "channel": Channel.API.value,
                **document,
                "entryPoint": endpoint.metadata.name,
                "brand": endpoint.spec.brand,
            }
        message = parse_message(endpoint.spec.tenant, document)
        accepted, duplicate = await accept_checked(accept, message)
        return web.json_response(
            {
                "contactId": accepted.contact_id,
                "messageId": accepted.message_id,
                "duplicate": duplicate,
                "contactCreated": accepted.contact_created and not duplicate,
            },
            status=200 if duplicate else 201,
        )

    def add(app: web.Application) -> None:
        app.router.add_post("/v1/generic/{endpoint}/messages", messages)

    return add
