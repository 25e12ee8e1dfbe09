"""IdentityService: decode, check access, call one use case, encode."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.configplane.models import Tenant
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from identity.adapters.profile_store import ProfileStore
from identity.domain.customer import Customer
from identity.domain.identifiers import IdentifierKind, InvalidIdentifier, normalize
from identity.service_layer.resolve import ResolveConflict, resolve_customer

RESOLVE_ROLES = frozenset({"admin", "supervisor", "agent", "integration"})
READ_ROLES = frozenset({"admin", "supervisor", "agent", "integration"})
MAX_IDENTIFIERS = 20
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_KIND_FROM_PROTO = {
    common_pb2.IDENTIFIER_KIND_PHONE: IdentifierKind.PHONE,
    common_pb2.IDENTIFIER_KIND_EMAIL: IdentifierKind.EMAIL,
    common_pb2.IDENTIFIER_KIND_WHATSAPP_ID: IdentifierKind.WHATSAPP_ID,
    common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID: IdentifierKind.WEBCHAT_VISITOR_ID,
    common_pb2.IDENTIFIER_KIND_EMAIL_THREAD: IdentifierKind.EMAIL_THREAD,
    common_pb2.IDENTIFIER_KIND_CRM_EXTERNAL_ID: IdentifierKind.CRM_EXTERNAL_ID,
}
_KIND_TO_PROTO: dict[IdentifierKind, common_pb2.IdentifierKind.ValueType] = {
    kind: number for number, kind in _KIND_FROM_PROTO.items() if kind is not IdentifierKind.WHATSAPP_ID
}


def scope_of(tenant: Tenant, brand_id: str) -> str:
    """Shared brands resolve in one tenant-wide space; isolated brands each in their own."""
    if tenant.brand_sharing == "isolated" and brand_id:
        return f"{tenant.id}.{brand_id}"
    return tenant.id


def to_proto(customer: Customer, revision: int) -> identity_pb2.Customer:
    return identity_pb2.Customer(
        customer_id=customer.customer_id,
        tenant=common_pb2.TenantRef(tenant_id=customer.tenant_id),
        home_region=customer.home_region,
        identifiers=[
            common_pb2.Identifier(kind=_KIND_TO_PROTO[i.kind], value=i.value) for i in customer.identifiers
        ],
        attributes=customer.attributes,
        revision=revision,
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, access: AccessControl, store: ProfileStore, region: str, tenants: Callable[[str], Tenant | None]
    ) -> None:
        self._access = access
        self._store = store
        self._region = region
        self._tenants = tenants

    async def _tenant(self, context: Any, tenant_id: str, brand_id: str) -> Tenant:
        tenant = self._tenants(tenant_id)
        if tenant is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"tenant {tenant_id!r} is not served in region {self._region!r}"
            )
            raise AssertionError("abort returned")  # pragma: no cover
        if brand_id and all(b.id != brand_id for b in tenant.brands):
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"brand {brand_id!r} does not exist in tenant {tenant_id!r}"
            )
        return tenant

    async def ResolveCustomer(
        self, request: identity_pb2.ResolveCustomerRequest, context: Any
    ) -> identity_pb2.ResolveCustomerResponse:
        await self._access.require(context, request.tenant.tenant_id, RESOLVE_ROLES)
        tenant = await self._tenant(context, request.tenant.tenant_id, request.tenant.brand_id)
        if not request.identifiers:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "identifiers: at least one identifier is required"
            )
        if len(request.identifiers) > MAX_IDENTIFIERS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"identifiers: at most {MAX_IDENTIFIERS} per call"
            )
        identifiers = []
        for index, item in enumerate(request.identifiers):
            kind = _KIND_FROM_PROTO.get(item.kind)
            if kind is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"identifiers[{index}].kind is unspecified or unknown"
                )
                raise AssertionError("abort returned")  # pragma: no cover
            try:
                identifiers.append(normalize(kind, item.value))
            except InvalidIdentifier as error:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"identifiers[{index}]: {error}")
        try:
            customer, created = await resolve_customer(
                self._store,
                tenant_id=tenant.id,
                scope=scope_of(tenant, request.tenant.brand_id),
                region=self._region,
                identifiers=identifiers,
            )
        except ResolveConflict as error:
            await context.abort(grpc.StatusCode.ABORTED, str(error))
        found = await self._store.get(customer.scope, customer.customer_id)
        revision = found[1] if found else 0
        return identity_pb2.ResolveCustomerResponse(customer=to_proto(customer, revision), created=created)

    async def GetCustomer(
        self, request: identity_pb2.GetCustomerRequest, context: Any
    ) -> identity_pb2.GetCustomerResponse:
        await self._access.require(context, request.tenant.tenant_id, READ_ROLES)
        tenant = await self._tenant(context, request.tenant.tenant_id, request.tenant.brand_id)
        if not _CUSTOMER_ID.match(request.customer_id):
            # It becomes part of a KV key: a dot or wildcard would reach into another brand's scope.
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "customer_id: required, 1-64 letters, digits, '-' or '_'",
            )
        found = await self._store.get(scope_of(tenant, request.tenant.brand_id), request.customer_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"customer {request.customer_id!r} not found")
            raise AssertionError("abort returned")  # pragma: no cover
        return identity_pb2.GetCustomerResponse(customer=to_proto(*found))

    async def GetTenant(
        self, request: identity_pb2.GetTenantRequest, context: Any
    ) -> identity_pb2.GetTenantResponse:
        await self._access.require(context, request.tenant_id, READ_ROLES | {"admin"})
        tenant = await self._tenant(context, request.tenant_id, "")
        return identity_pb2.GetTenantResponse(
            tenant=identity_pb2.Tenant(
                tenant_id=tenant.id,
                display_name=tenant.display_name,
                brands=[
                    identity_pb2.Brand(brand_id=b.id, display_name=b.display_name) for b in tenant.brands
                ],
            )
        )
