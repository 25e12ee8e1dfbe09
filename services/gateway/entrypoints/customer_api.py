"""The customer view over HTTP: find a customer by identifier, read them and their timeline.

    GET /v1/tenants/{tenant}/customers?phone=+44...&brand=acme-retail
    GET /v1/tenants/{tenant}/customers/{customer_id}?brand=acme-retail
    GET /v1/tenants/{tenant}/customers/{customer_id}/timeline?brand=acme-retail&limit=50&pageToken=...

Bearer token of an admin, supervisor or agent of the tenant (a brand-scoped token sees its
brands only); identity is asked with that same token. `brand` is required where the tenant
keeps its brands' customers apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import grpc
from aiohttp import web

from ccmesh.access import AccessControl
from ccmesh.auth import bearer_token
from ccmesh.status import RpcError
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.inbound_port import rpc_failure
from gateway.service_layer.customer_directory import (
    BadLookup,
    CustomerReader,
    customer_timeline,
    find_customer,
    get_customer,
    identifiers_of,
    page_size_of,
)

CUSTOMER_ROLES = frozenset({"admin", "supervisor", "agent"})

#: Identity's stub, calling with the given bearer token.
IdentityAs = Callable[[str], CustomerReader]


class _BearerHeaders:
    def __init__(self, request: web.Request) -> None:
        self._request = request

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [(key.lower(), value) for key, value in self._request.headers.items()]

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise RpcError(code, details)


def customer_routes(access: AccessControl, identity_as: IdentityAs) -> RouteAdder:
    async def checked(request: web.Request) -> tuple[CustomerReader, str, str]:
        tenant_id = request.match_info["tenant"]
        brand_id = request.query.get("brand", "")
        await access.require(_BearerHeaders(request), tenant_id, CUSTOMER_ROLES, brand_id=brand_id)
        admit_verified(request)
        token = bearer_token((key.lower(), value) for key, value in request.headers.items()) or ""
        return identity_as(token), tenant_id, brand_id

    async def answer(request: web.Request, read: Callable[..., Any]) -> web.Response:
        try:
            identity, tenant_id, brand_id = await checked(request)
            return web.json_response(await read(identity, tenant_id, brand_id))
        except BadLookup as error:
            raise EdgeError(400, "INVALID_ARGUMENT", str(error)) from None
        except RpcError as error:
            raise rpc_failure(error) from None

    @verifies_caller
    async def find(request: web.Request) -> web.Response:
        return await answer(request, lambda i, t, b: find_customer(i, t, b, identifiers_of(request.query)))

    @verifies_caller
    async def get(request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        return await answer(request, lambda i, t, b: get_customer(i, t, b, customer_id))

    @verifies_caller
    async def timeline(request: web.Request) -> web.Response:
        customer_id, query = request.match_info["customer_id"], request.query

        def read(identity: CustomerReader, tenant_id: str, brand_id: str) -> Any:
            return customer_timeline(
                identity,
                tenant_id,
                brand_id,
                customer_id,
                page_size=page_size_of(query.get("limit", "")),
                page_token=query.get("pageToken", ""),
            )

        return await answer(request, read)

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/tenants/{tenant}/customers", find)
        app.router.add_get("/v1/tenants/{tenant}/customers/{customer_id}", get)
        app.router.add_get("/v1/tenants/{tenant}/customers/{customer_id}/timeline", timeline)

    return add
