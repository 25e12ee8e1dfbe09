"""What every IdentityService handler shares: dependencies, roles, argument checks, lookups.

A bad argument or a missing tenant or customer ends the call through the servicer context
(`ccmesh.rpc_context.abort`), the one way identity's handlers report a status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from ccmesh.auth import AuthError, Caller, authorize_brand
from ccmesh.configplane.models import Tenant
from ccmesh.policy_violations import PolicyCheck
from ccmesh.retention_holds import LegalHoldStore
from ccmesh.rpc_context import abort
from contactcenter.common.v1 import common_pb2
from identity.adapters.agent_store import AgentStore
from identity.adapters.consent_events import ConsentEvents
from identity.adapters.consent_store import ConsentStore
from identity.adapters.contact_events import ContactEventsEraser
from identity.adapters.forget_objects import ObjectStoreEraser
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.adapters.profile_store import ProfileStore
from identity.adapters.region_scrubber import RegionScrubber
from identity.domain.customer import CUSTOMER_ID, Customer
from identity.domain.identifiers import Identifier
from identity.domain.residency import IndexKeys
from identity.entrypoints import convert
from identity.entrypoints.access import IdentityAccess
from identity.service_layer.ports import ErasureElsewhere

EVERY_ROLE = frozenset({"admin", "supervisor", "agent", "integration"})
RESOLVE_ROLES = EVERY_ROLE
READ_ROLES = EVERY_ROLE
MERGE_ROLES = frozenset({"admin", "supervisor", "agent"})
AUDIT_ROLES = frozenset({"admin", "supervisor"})
ADMIN = frozenset({"admin"})
SERVICE = frozenset({"service"})
ENTRY_ID_MAX = 128
_REASON_MAX = 500

#: A stub of another region's IdentityService, by region.
RemoteStubs = Callable[[str], Any]


@dataclass
class IdentityDeps:
    access: IdentityAccess
    store: ProfileStore
    history: HistoryStore
    agents: AgentStore
    global_index: GlobalIndex
    scrubber: RegionScrubber
    contact_events: ContactEventsEraser
    index_keys: IndexKeys
    region: str
    tenants: Callable[[str], Tenant | None]
    remote: RemoteStubs
    objects: ObjectStoreEraser
    holds: LegalHoldStore
    #: Signs erasure reports (the region's auth secret; `ccctl retention verify` checks them).
    erasure_secret: str
    consents: ConsentStore
    consent_events: ConsentEvents
    #: The region's compliance rules for data leaving it (None: no rules are checked).
    policy: PolicyCheck | None = None
    #: Other services' parts of an erasure (integration's stores, the AI service's caches).
    erasure_elsewhere: Sequence[ErasureElsewhere] = ()


async def invalid(context: Any, message: str) -> NoReturn:
    await abort(context, grpc.StatusCode.INVALID_ARGUMENT, message)


async def check_customer_id(context: Any, value: str, field: str = "customer_id") -> str:
    # It becomes part of a KV key: a dot or wildcard would reach into another brand's scope.
    if not CUSTOMER_ID.match(value):
        await invalid(context, f"{field}: required, 1-64 letters, digits, '-' or '_'")
    return value


async def check_reason(context: Any, value: str, required: bool = True) -> str:
    if required and not value.strip():
        await invalid(context, "reason: required (it is kept in the audit trail)")
    if len(value) > _REASON_MAX:
        await invalid(context, f"reason: at most {_REASON_MAX} characters")
    return value


async def identifiers_of(context: Any, items: Iterable[common_pb2.Identifier]) -> list[Identifier]:
    """The request's identifiers, normalised; INVALID_ARGUMENT naming the first bad one."""
    try:
        return convert.identifiers_from(items)
    except convert.InvalidIdentifiers as error:
        await invalid(context, str(error))


class HandlerBase:
    """Holds the dependencies; the tenant and customer lookups every handler starts with."""

    def __init__(self, deps: IdentityDeps) -> None:
        self._d = deps

    async def _tenant(self, context: Any, tenant_id: str, brand_id: str) -> Tenant:
        tenant = self._d.tenants(tenant_id)
        if tenant is None:
            await abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"tenant {tenant_id!r} is not served in region {self._d.region!r}",
            )
        if brand_id and all(b.id != brand_id for b in tenant.brands):
            await abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"brand {brand_id!r} does not exist in tenant {tenant_id!r}",
            )
        return tenant

    async def _customer_tenant(self, context: Any, tenant_id: str, brand_id: str, caller: Caller) -> Tenant:
        """The tenant for a customer read or write: isolated brands keep separate customers, so
        one of them must be named; a blank brand would reach (or create) a customer no brand sees.
        A brand-scoped caller reaches only its own brands' customers."""
        try:
            authorize_brand(caller, brand_id)
        except AuthError as error:
            await abort(context, grpc.StatusCode.PERMISSION_DENIED, str(error))
        tenant = await self._tenant(context, tenant_id, brand_id)
        if tenant.brand_sharing == "isolated" and tenant.brands and not brand_id:
            brands = sorted(b.id for b in tenant.brands)
            await invalid(
                context,
                f"tenant.brand_id: required; tenant {tenant_id!r} keeps each brand's customers apart "
                f"(brandSharing: isolated), name one of {brands}",
            )
        return tenant

    async def _customer(
        self, context: Any, tenant: Tenant, brand_id: str, customer_id: str
    ) -> tuple[Customer, int]:
        await check_customer_id(context, customer_id)
        found = await self._d.store.get(convert.scope_of(tenant, brand_id), customer_id)
        if found is None:
            await abort(context, grpc.StatusCode.NOT_FOUND, f"customer {customer_id!r} not found")
        return found
