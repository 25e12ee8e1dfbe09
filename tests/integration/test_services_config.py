"""Config applies live: tenants added or removed through the config plane take effect without a restart."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import Platform, eu_contact_center, eventually, with_tenant

from ccmesh.configplane.models import Brand, Tenant
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

INITECH = Tenant(id="initech", display_name="Initech", brands=[Brand(id="initech", display_name="Initech")])


async def tenant_or_code(identity: Any, tenant_id: str) -> Any:
    try:
        return (await identity.GetTenant(identity_pb2.GetTenantRequest(tenant_id=tenant_id))).tenant
    except RpcError as error:
        return error.code


async def test_a_tenant_added_while_running_is_served_without_a_restart(platform: Platform) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="initech", role="admin")
    with pytest.raises(RpcError) as before:
        await identity.GetTenant(identity_pb2.GetTenantRequest(tenant_id="initech"))
    assert before.value.code is grpc.StatusCode.NOT_FOUND
    assert "initech" in before.value.message

    applied = await platform.apply(with_tenant(eu_contact_center(), INITECH))
    assert applied.changed and applied.generation == 2

    async def served() -> Any:
        found = await tenant_or_code(identity, "initech")
        return found if isinstance(found, identity_pb2.Tenant) else None

    tenant = await eventually(served)
    assert (tenant.tenant_id, tenant.display_name) == ("initech", "Initech")
    assert [b.brand_id for b in tenant.brands] == ["initech"]
    resolved = await identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(
            tenant=common_pb2.TenantRef(tenant_id="initech", brand_id="initech"),
            identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+15551234567")],
        )
    )
    assert resolved.created
    assert resolved.customer.tenant.tenant_id == "initech"


async def test_a_tenant_removed_while_running_stops_being_served(platform: Platform) -> None:
    await platform.start("identity")
    globex = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    assert (await tenant_or_code(globex, "globex")).tenant_id == "globex"

    document = eu_contact_center()
    spec = document.spec.model_copy(
        update={"tenants": [t for t in document.spec.tenants if t.id != "globex"]}
    )
    await platform.apply(document.model_copy(update={"spec": spec}))

    async def gone() -> bool:
        return await tenant_or_code(globex, "globex") is grpc.StatusCode.NOT_FOUND

    await eventually(gone)
    # The other tenant is untouched.
    acme = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    assert (await tenant_or_code(acme, "acme")).tenant_id == "acme"
