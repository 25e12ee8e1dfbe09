"""Lookups never create: a customer call without the brand an isolated tenant needs is refused.

acme keeps its brands apart (`brandSharing: isolated`), so a blank brand names no customer space:
resolving, reading and writing there is INVALID_ARGUMENT naming `tenant.brand_id`, and nothing is
stored. globex shares its brands, so a blank brand resolves at tenant level, to the same customer
as its brand does.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import REGION, Platform, platform  # noqa: F401 - the fixture

from ccmesh import naming
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

ACME_BLANK = common_pb2.TenantRef(tenant_id="acme")
ACME_RETAIL = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
NUMBER = "+442079460958"


def phone(value: str = NUMBER) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=PHONE, value=value)


async def stored_state(platform: Platform) -> dict[str, tuple[int, int]]:  # noqa: F811
    """(messages, last sequence) of every stream but the access audit log, which records the
    refused calls too: that is its purpose."""
    js = platform.nc.jetstream()
    audit = naming.audit_stream(REGION).name
    return {
        i.config.name: (i.state.messages, i.state.last_seq)
        for i in await js.streams_info()
        if i.config.name != audit
    }


def blank_brand_calls(customer_id: str) -> list[tuple[str, Any]]:
    return [
        ("ResolveCustomer", pb.ResolveCustomerRequest(tenant=ACME_BLANK, identifiers=[phone()])),
        (
            "ResolveCustomer",
            pb.ResolveCustomerRequest(tenant=ACME_BLANK, identifiers=[phone("+447700900123")]),
        ),
        ("GetCustomer", pb.GetCustomerRequest(tenant=ACME_BLANK, customer_id=customer_id)),
        ("GetTimeline", pb.GetTimelineRequest(tenant=ACME_BLANK, customer_id=customer_id)),
        (
            "AppendTimelineEntry",
            pb.AppendTimelineEntryRequest(
                tenant=ACME_BLANK,
                entry=pb.TimelineEntry(
                    entry_id="e1", customer_id=customer_id, kind=pb.TIMELINE_ENTRY_KIND_OUTCOME
                ),
            ),
        ),
    ]


async def test_a_blank_brand_of_an_isolated_tenant_is_refused_and_creates_nobody(
    platform: Platform,  # noqa: F811
) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    known = await admin.ResolveCustomer(pb.ResolveCustomerRequest(tenant=ACME_RETAIL, identifiers=[phone()]))
    assert known.created
    before = await stored_state(platform)
    for method, request in blank_brand_calls(known.customer.customer_id):
        # Repeated: the old behaviour made a new customer on each call.
        for _ in range(3):
            with pytest.raises(RpcError) as caught:
                await getattr(admin, method)(request)
            assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT, (method, caught.value)
            message = caught.value.message
            assert "tenant.brand_id" in message and "acme-retail" in message and "acme-bank" in message
        assert await stored_state(platform) == before, method
    # The brand's own customer is untouched and still the one the phone resolves to.
    again = await admin.ResolveCustomer(pb.ResolveCustomerRequest(tenant=ACME_RETAIL, identifiers=[phone()]))
    assert not again.created and again.customer.customer_id == known.customer.customer_id


async def test_a_blank_brand_of_a_shared_tenant_resolves_at_tenant_level(platform: Platform) -> None:  # noqa: F811
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    branded = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
    blank = common_pb2.TenantRef(tenant_id="globex")
    first = await admin.ResolveCustomer(pb.ResolveCustomerRequest(tenant=branded, identifiers=[phone()]))
    for _ in range(3):
        same = await admin.ResolveCustomer(pb.ResolveCustomerRequest(tenant=blank, identifiers=[phone()]))
        assert not same.created and same.customer.customer_id == first.customer.customer_id
    got = await admin.GetCustomer(pb.GetCustomerRequest(tenant=blank, customer_id=first.customer.customer_id))
    assert got.customer.customer_id == first.customer.customer_id
