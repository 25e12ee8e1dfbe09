"""Tenant isolation and authentication for every RPC of every service, over the mesh.

Each RPC is first called the right way (so a refusal below cannot come from a broken call),
then with another tenant's name, without a token, with forged and expired tokens, and with a
role that may not call it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
import pytest
from _platform import Platform, eventually

from ccmesh.auth import TokenAuthority
from ccmesh.rpc_client import mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)


def _ref(tenant: str) -> common_pb2.TenantRef:
    return common_pb2.TenantRef(tenant_id=tenant, brand_id="acme-retail" if tenant == "acme" else "")


def _phone(value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=value)


@dataclass(frozen=True)
class Rpc:
    services: tuple[str, ...]
    stub: Callable[[Any], object]
    method: str
    #: The request naming `tenant`.
    request: Callable[[str], Any]
    #: A role that may call it.
    allowed: str
    #: A role of the same tenant that may not, if any role may not.
    refused: str | None

    def call(self, platform: Platform, token: str | None, tenant: str) -> Any:
        stub = mesh_stub(self.stub, platform.channel(token))
        return getattr(stub, self.method)(self.request(tenant), timeout=5.0)


RPCS = {
    "identity.ResolveCustomer": Rpc(
        ("identity",),
        IdentityServiceStub,
        "ResolveCustomer",
        lambda t: identity_pb2.ResolveCustomerRequest(tenant=_ref(t), identifiers=[_phone("+4915100000001")]),
        allowed="agent",
        refused=None,  # every tenant role resolves customers
    ),
    "identity.GetCustomer": Rpc(
        ("identity",),
        IdentityServiceStub,
        "GetCustomer",
        lambda t: identity_pb2.GetCustomerRequest(tenant=_ref(t), customer_id="0" * 32),
        allowed="agent",
        refused=None,
    ),
    "identity.GetTenant": Rpc(
        ("identity",),
        IdentityServiceStub,
        "GetTenant",
        lambda t: identity_pb2.GetTenantRequest(tenant_id=t),
        allowed="supervisor",
        refused=None,
    ),
    "gateway.SubmitInboundMessage": Rpc(
        ("identity", "gateway"),
        GatewayServiceStub,
        "SubmitInboundMessage",
        lambda t: gateway_pb2.SubmitInboundMessageRequest(
            tenant=_ref(t),
            channel=common_pb2.CHANNEL_KIND_SMS,
            provider_message_id="SM-isolation",
            text="hi",
            **{"from": _phone("+4915100000002")},  # type: ignore[arg-type]
        ),
        allowed="integration",
        refused="agent",
    ),
    "integration.ListContactEvents": Rpc(
        ("integration",),
        IntegrationServiceStub,
        "ListContactEvents",
        lambda t: integration_pb2.ListContactEventsRequest(tenant_id=t, contact_id="c" * 32),
        allowed="supervisor",
        refused="agent",
    ),
    "integration.EraseCustomerData": Rpc(
        ("integration",),
        IntegrationServiceStub,
        "EraseCustomerData",
        lambda t: integration_pb2.EraseCustomerDataRequest(
            tenant_id=t, customer_ids=["0" * 32], contact_ids=["c" * 32]
        ),
        allowed="service",
        refused="admin",  # identity's ForgetCustomer orders erasures, with its own checks
    ),
    "routing.PredictServiceLevel": Rpc(
        ("routing",),
        RoutingServiceStub,
        "PredictServiceLevel",
        lambda t: routing_pb2.PredictServiceLevelRequest(
            tenant_id=t,
            arrivals_per_hour=200,
            average_handle_seconds=180,
            agents=14,
            target_answer_seconds=20,
        ),
        allowed="supervisor",
        refused="agent",
    ),
    "ai.RedactText": Rpc(
        ("ai",),
        AiServiceStub,
        "RedactText",
        lambda t: ai_pb2.RedactTextRequest(tenant_id=t, text="mail me at jane@example.com"),
        allowed="agent",
        refused=None,  # every tenant role may redact
    ),
    "ai.ForgetRecentTexts": Rpc(
        ("ai",),
        AiServiceStub,
        "ForgetRecentTexts",
        lambda t: ai_pb2.ForgetRecentTextsRequest(tenant_id=t),
        allowed="service",
        refused="admin",  # identity's ForgetCustomer orders erasures, with its own checks
    ),
}


def forged_tokens(platform: Platform) -> dict[str, str]:
    genuine = platform.token("acme", "agent")
    prefix, _, signature = genuine.split(".")
    claims = {"t": "globex", "r": "admin", "s": "mallory", "e": int(time.time()) + 3600}
    payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    return {
        "payload swapped under a genuine signature": f"{prefix}.{payload}.{signature}",
        "signed with another secret": TokenAuthority("x" * 32).mint("acme", "admin", "mallory"),
        "signature stripped": f"{prefix}.{payload}.",
        "not a token": "hello",
        "wrong scheme prefix": genuine.replace("cct1.", "cct2.", 1),
    }


async def failure(call: Any) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await call
    return caught.value


@pytest.mark.parametrize("name", list(RPCS))
async def test_rpc_refuses_other_tenants_missing_forged_and_expired_tokens_and_wrong_roles(
    platform: Platform,
    name: str,
) -> None:
    rpc = RPCS[name]
    await platform.start(*rpc.services)

    # The right caller gets an answer (or a domain error, not an access error).
    try:
        await rpc.call(platform, platform.token("acme", rpc.allowed), "acme")
    except RpcError as error:
        assert error.code is grpc.StatusCode.NOT_FOUND, error  # e.g. the customer id does not exist

    other_tenant = await failure(rpc.call(platform, platform.token("acme", rpc.allowed), "globex"))
    assert other_tenant.code is grpc.StatusCode.PERMISSION_DENIED
    assert "globex" in other_tenant.message

    anonymous = await failure(rpc.call(platform, None, "acme"))
    assert anonymous.code is grpc.StatusCode.UNAUTHENTICATED
    assert "token" in anonymous.message

    for why, token in forged_tokens(platform).items():
        for tenant in ("acme", "globex"):
            forged = await failure(rpc.call(platform, token, tenant))
            assert forged.code is grpc.StatusCode.UNAUTHENTICATED, (why, tenant, forged)

    expired = await failure(rpc.call(platform, platform.token("acme", rpc.allowed, ttl_seconds=-60), "acme"))
    assert expired.code is grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in expired.message

    if rpc.refused is not None:
        wrong_role = await failure(rpc.call(platform, platform.token("acme", rpc.refused), "acme"))
        assert wrong_role.code is grpc.StatusCode.PERMISSION_DENIED
        assert repr(rpc.refused) in wrong_role.message

    no_tenant = await failure(rpc.call(platform, platform.token("acme", rpc.allowed), ""))
    assert no_tenant.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "tenant_id" in no_tenant.message


async def test_another_tenants_records_are_never_returned(platform: Platform) -> None:
    await platform.start("identity", "gateway", "integration")
    globex_gateway = platform.stub(GatewayServiceStub, tenant="globex", role="integration")
    submitted = await globex_gateway.SubmitInboundMessage(
        gateway_pb2.SubmitInboundMessageRequest(
            tenant=common_pb2.TenantRef(tenant_id="globex"),
            channel=common_pb2.CHANNEL_KIND_SMS,
            provider_message_id="SM-globex",
            text="secret globex matter",
            **{"from": _phone("+4915100000003")},  # type: ignore[arg-type]
        )
    )
    globex_events = platform.stub(IntegrationServiceStub, tenant="globex", role="integration")
    listing = integration_pb2.ListContactEventsRequest(tenant_id="globex", contact_id=submitted.contact_id)

    async def listed() -> bool:
        return len((await globex_events.ListContactEvents(listing)).events) == 2

    await eventually(listed)  # the records exist, so an empty answer below is isolation

    acme_identity = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    acme_events = platform.stub(IntegrationServiceStub, tenant="acme", role="admin")
    for brand in ("", "acme-retail", "acme-bank"):
        hidden = await failure(
            acme_identity.GetCustomer(
                identity_pb2.GetCustomerRequest(
                    tenant=common_pb2.TenantRef(tenant_id="acme", brand_id=brand),
                    customer_id=submitted.customer_id,
                )
            )
        )
        # A blank brand is refused before any lookup (acme's brands are isolated): no data either way.
        expected = grpc.StatusCode.INVALID_ARGUMENT if brand == "" else grpc.StatusCode.NOT_FOUND
        assert hidden.code is expected
    mine = await acme_events.ListContactEvents(
        integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=submitted.contact_id)
    )
    assert list(mine.events) == []
    # The same phone resolved in acme is acme's own, new customer.
    resolved = await acme_identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(tenant=_ref("acme"), identifiers=[_phone("+4915100000003")])
    )
    assert resolved.created
    assert resolved.customer.customer_id != submitted.customer_id
