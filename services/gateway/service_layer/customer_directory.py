"""Read a customer and their cross-channel history from identity, for a person who asked.

Every call carries the asking person's own token, so identity checks their tenant, role and
brand scope itself; nothing here can widen what they may see. Lookups never create a customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ccmesh.customer_views import IDENTIFIER_KINDS, customer_view, timeline_entry_view
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2

MAX_PAGE = 200


class CustomerReader(Protocol):
    async def FindCustomer(self, request: identity_pb2.FindCustomerRequest, **kwargs: Any) -> Any: ...
    async def GetCustomer(self, request: identity_pb2.GetCustomerRequest, **kwargs: Any) -> Any: ...
    async def GetTimeline(self, request: identity_pb2.GetTimelineRequest, **kwargs: Any) -> Any: ...


class BadLookup(ValueError):
    """The lookup asks for something malformed; the text names the parameter."""


def identifiers_of(query: Mapping[str, str]) -> list[common_pb2.Identifier]:
    """Identifiers named by kind (`phone=+44...&email=...`); at least one is required."""
    found = [
        common_pb2.Identifier(kind=kind, value=query[name])
        for name, kind in IDENTIFIER_KINDS.items()
        if query.get(name)
    ]
    if not found:
        raise BadLookup(f"an identifier is required: one of {sorted(IDENTIFIER_KINDS)}")
    return found


def page_size_of(raw: str) -> int:
    if not raw:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadLookup(f"limit: a number from 1 to {MAX_PAGE}, got {raw[:20]!r}")
    return int(raw)


async def find_customer(
    identity: CustomerReader, tenant_id: str, brand_id: str, identifiers: list[common_pb2.Identifier]
) -> dict[str, Any]:
    reply = await identity.FindCustomer(
        identity_pb2.FindCustomerRequest(
            tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id), identifiers=identifiers
        )
    )
    return customer_view(reply.customer)


async def get_customer(
    identity: CustomerReader, tenant_id: str, brand_id: str, customer_id: str
) -> dict[str, Any]:
    reply = await identity.GetCustomer(
        identity_pb2.GetCustomerRequest(
            tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id), customer_id=customer_id
        )
    )
    return customer_view(reply.customer)


async def customer_timeline(
    identity: CustomerReader,
    tenant_id: str,
    brand_id: str,
    customer_id: str,
    *,
    page_size: int = 50,
    page_token: str = "",
) -> dict[str, Any]:
    """One page of the history, oldest first, and where the next page starts ("" at the end)."""
    reply = await identity.GetTimeline(
        identity_pb2.GetTimelineRequest(
            tenant=common_pb2.TenantRef(tenant_id=tenant_id, brand_id=brand_id),
            customer_id=customer_id,
            page_size=page_size,
            page_token=page_token,
        )
    )
    return {
        "customerId": customer_id,
        "entries": [timeline_entry_view(entry) for entry in reply.entries],
        "nextPageToken": reply.next_page_token,
    }
