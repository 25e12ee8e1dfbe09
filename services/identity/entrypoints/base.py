"""What every IdentityService handler shares: dependencies, roles, argument checks, lookups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from nats.js.client import JetStreamContext

from ccmesh.configplane.models import Tenant
from ccmesh.status import RpcError
from identity.adapters.agent_store import AgentStore
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.adapters.profile_store import ProfileStore
from identity.adapters.region_scrubber import RegionScrubber
from identity.domain.customer import CUSTOMER_ID, Customer
from identity.domain.residency import IndexKeys
from identity.entrypoints import convert
from identity.entrypoints.access import IdentityAccess

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
    js: JetStreamContext
    store: ProfileStore
    history: HistoryStore
    agents: AgentStore
    global_index: GlobalIndex
    scrubber: RegionScrubber
    index_keys: IndexKeys
    region: str
    tenants: Callable[[str], Tenant | None]
    remote: RemoteStubs


def invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def check_customer_id(value: str, field: str = "customer_id") -> str:
    # It becomes part of a KV key: a dot or wildcard would reach into another brand's scope.
    if not CUSTOMER_ID.match(value):
        raise invalid(f"{field}: required, 1-64 letters, digits, '-' or '_'")
    return value


def check_reason(value: str, required: bool = True) -> str:
    if required and not value.strip():
        raise invalid("reason: required (it is kept in the audit trail)")
    if len(value) > _REASON_MAX:
        raise invalid(f"reason: at most {_REASON_MAX} characters")
    return value


class HandlerBase:
    """Holds the dependencies; the tenant and customer lookups every handler starts with."""

    def __init__(self, deps: IdentityDeps) -> None:
        self._d = deps

    def _tenant(self, tenant_id: str, brand_id: str) -> Tenant:
        tenant = self._d.tenants(tenant_id)
        if tenant is None:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND, f"tenant {tenant_id!r} is not served in region {self._d.region!r}"
            )
        if brand_id and all(b.id != brand_id for b in tenant.brands):
            raise RpcError(
                grpc.StatusCode.NOT_FOUND, f"brand {brand_id!r} does not exist in tenant {tenant_id!r}"
            )
        return tenant

    async def _customer(self, tenant: Tenant, brand_id: str, customer_id: str) -> tuple[Customer, int]:
        check_customer_id(customer_id)
        found = await self._d.store.get(convert.scope_of(tenant, brand_id), customer_id)
        if found is None:
            raise RpcError(grpc.StatusCode.NOT_FOUND, f"customer {customer_id!r} not found")
        return found
