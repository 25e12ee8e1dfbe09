"""Agents, API tokens and tenant isolation for every IdentityService RPC.

A caller of tenant globex asks for tenant acme's data in two ways: naming acme (the token says
globex: PERMISSION_DENIED) and naming globex with acme's ids (NOT_FOUND). Never data.
Both the platform's signed tokens and opaque API tokens are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from _platform import Platform

from ccmesh.rpc_client import mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

ACME = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
PHONE = common_pb2.IDENTIFIER_KIND_PHONE


def ref(tenant: str) -> common_pb2.TenantRef:
    return ACME if tenant == "acme" else common_pb2.TenantRef(tenant_id=tenant)


def agent(tenant: str, agent_id: str = "ag-1", **extra: Any) -> pb.Agent:
    fields: dict[str, Any] = {
        "agent_id": agent_id,
        "tenant": common_pb2.TenantRef(tenant_id=tenant),
        "display_name": "Ada",
        "skills": [pb.Skill(name="billing", proficiency=4)],
        "languages": ["en", "de-AT"],
        "channels": [pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, max_concurrent=3)],
        "brands": ["acme-retail"] if tenant == "acme" else [],
        "queues": ["billing"],
    }
    fields.update(extra)
    return pb.Agent(**fields)


@pytest.fixture
async def acme_data(platform: Platform) -> dict[str, str]:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    customer = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=ACME, identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555111")]
        )
    )
    other = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=ACME, identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555222")]
        )
    )
    customer_id, other_id = customer.customer.customer_id, other.customer.customer_id
    await admin.AppendTimelineEntry(
        pb.AppendTimelineEntryRequest(
            tenant=ACME,
            entry=pb.TimelineEntry(
                entry_id="e1",
                customer_id=customer_id,
                kind=pb.TIMELINE_ENTRY_KIND_OUTCOME,
                summary="resolved",
            ),
        )
    )
    await admin.UpsertAgent(pb.UpsertAgentRequest(agent=agent("acme")))
    token = await admin.CreateApiToken(
        pb.CreateApiTokenRequest(tenant=ACME, role="integration", scopes=["customers:read"], ttl_seconds=600)
    )
    return {"customer": customer_id, "other": other_id, "token_id": token.token_id}


def requests(tenant: str, ids: dict[str, str]) -> dict[str, Any]:
    """One request per RPC, naming `tenant` and acme's ids."""
    r = ref(tenant)
    c = ids["customer"]
    return {
        "ResolveCustomer": pb.ResolveCustomerRequest(
            tenant=r, identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555111")]
        ),
        "GetCustomer": pb.GetCustomerRequest(tenant=r, customer_id=c),
        "GetTenant": pb.GetTenantRequest(tenant_id=tenant),
        "MergeCustomers": pb.MergeCustomersRequest(
            tenant=r, target_customer_id=c, source_customer_id=ids["other"], reason="x"
        ),
        "UnmergeCustomer": pb.UnmergeCustomerRequest(tenant=r, source_customer_id=c, reason="x"),
        "ListAuditRecords": pb.ListAuditRecordsRequest(tenant=r, customer_id=c),
        "AppendTimelineEntry": pb.AppendTimelineEntryRequest(
            tenant=r,
            entry=pb.TimelineEntry(entry_id="e2", customer_id=c, kind=pb.TIMELINE_ENTRY_KIND_OUTCOME),
        ),
        "GetTimeline": pb.GetTimelineRequest(tenant=r, customer_id=c),
        "FindCustomer": pb.FindCustomerRequest(
            tenant=r, identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555111")]
        ),
        "ForgetCustomer": pb.ForgetCustomerRequest(tenant=r, customer_id=c, reason="x"),
        "ListCrossings": pb.ListCrossingsRequest(tenant=r),
        "RecordCrossing": pb.RecordCrossingRequest(tenant=r, customer_id=c, to_region="us", actor="x"),
        "ResolveFromRegion": pb.ResolveFromRegionRequest(
            tenant=r,
            identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555111")],
            requesting_region="us",
        ),
        "UpsertAgent": pb.UpsertAgentRequest(
            agent=agent(tenant, display_name="Ada" if tenant == "acme" else "Gil")
        ),
        "GetAgent": pb.GetAgentRequest(tenant=r, agent_id="ag-1"),
        "ListAgents": pb.ListAgentsRequest(tenant=r),
        "CreateApiToken": pb.CreateApiTokenRequest(tenant=r, role="agent", ttl_seconds=600),
        "RevokeApiToken": pb.RevokeApiTokenRequest(tenant=r, token_id=ids["token_id"]),
        "VerifyApiToken": pb.VerifyApiTokenRequest(token="ccat_x_y"),
        "QueryAudit": pb.QueryAuditRequest(tenant_id=tenant),
        "RecordConsent": pb.RecordConsentRequest(tenant=r, customer_id=c, purpose="recording", source="x"),
        "WithdrawConsent": pb.WithdrawConsentRequest(
            tenant=r, customer_id=c, purpose="recording", source="x"
        ),
        "ListConsents": pb.ListConsentsRequest(tenant=r, customer_id=c),
        "PlaceLegalHold": pb.PlaceLegalHoldRequest(tenant=r, customer_id=c, reason="x"),
        "ReleaseLegalHold": pb.ReleaseLegalHoldRequest(tenant=r, hold_id="h1", reason="x"),
        "ListLegalHolds": pb.ListLegalHoldsRequest(tenant=r),
    }


ALL_RPCS = sorted(pb.DESCRIPTOR.services_by_name["IdentityService"].methods_by_name)


def test_every_rpc_of_the_contract_is_covered() -> None:
    assert sorted(requests("acme", {"customer": "c", "other": "o", "token_id": "t"})) == ALL_RPCS


def leaked(reply: Any, ids: dict[str, str]) -> bool:
    text = str(reply)
    # The phone is left out: resolving it as globex rightly makes globex's own customer, and echoes it.
    return any(value in text for value in (*ids.values(), "Ada", "resolved", "acme-retail"))


@pytest.mark.parametrize("method", ALL_RPCS)
async def test_a_globex_caller_never_gets_acme_data(
    platform: Platform,
    acme_data: dict[str, str],
    method: str,
) -> None:
    globex = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    # 1. Naming acme with a globex token: refused outright.
    with pytest.raises(RpcError) as caught:
        await getattr(globex, method)(requests("acme", acme_data)[method])
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED, caught.value
    # 2. Naming globex with acme's ids: nothing of acme's comes back, whatever the outcome.
    try:
        reply = await getattr(globex, method)(requests("globex", acme_data)[method])
    except RpcError as error:
        assert error.code in (
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
        ), error
        # The error may echo the ids the caller sent, nothing else of acme's.
        assert not leaked(error.message, {})
    else:
        assert not leaked(reply, acme_data), reply
    # acme's data is untouched.
    acme = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    still = await acme.GetCustomer(pb.GetCustomerRequest(tenant=ACME, customer_id=acme_data["customer"]))
    assert still.customer.customer_id == acme_data["customer"]


async def test_opaque_api_tokens_are_stored_as_hashes_scoped_revocable_and_tenant_bound(
    platform: Platform,
) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    created = await admin.CreateApiToken(
        pb.CreateApiTokenRequest(
            tenant=ACME, role="integration", scopes=["customers:read", "customers:write"], ttl_seconds=600
        )
    )
    assert created.token.startswith("ccat_")
    # Only a hash is stored: the token's secret part is in no stored value or key.
    kv = await platform.nc.jetstream().key_value("identity-eu")
    secret = created.token.split("_", 2)[2]  # ccat_<id>_<secret>; the secret may contain "_"
    for key in await kv.keys():
        entry = await kv.get(key)
        assert secret not in key and secret.encode() not in (entry.value or b"")

    def with_token(token: str) -> Any:
        return mesh_stub(IdentityServiceStub, platform.channel(token))

    api = with_token(created.token)
    made = await api.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=ACME, identifiers=[common_pb2.Identifier(kind=PHONE, value="+4930555333")]
        )
    )
    assert made.created
    fetched = await api.GetCustomer(pb.GetCustomerRequest(tenant=ACME, customer_id=made.customer.customer_id))
    assert fetched.customer.customer_id == made.customer.customer_id

    refusals: list[tuple[Callable[[], Any], grpc.StatusCode, str]] = [
        # Lacks the scope timeline:read.
        (
            lambda: api.GetTimeline(
                pb.GetTimelineRequest(tenant=ACME, customer_id=made.customer.customer_id)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "timeline:read",
        ),
        # Another tenant.
        (
            lambda: api.GetTenant(pb.GetTenantRequest(tenant_id="globex")),
            grpc.StatusCode.PERMISSION_DENIED,
            "globex",
        ),
        # The integration role may not create tokens.
        (
            lambda: api.CreateApiToken(pb.CreateApiTokenRequest(tenant=ACME, role="admin", ttl_seconds=600)),
            grpc.StatusCode.PERMISSION_DENIED,
            "role",
        ),
        # A made-up opaque token.
        (
            lambda: with_token("ccat_0_forged").GetTenant(pb.GetTenantRequest(tenant_id="acme")),
            grpc.StatusCode.UNAUTHENTICATED,
            "unknown",
        ),
    ]
    for call, code, named in refusals:
        with pytest.raises(RpcError) as caught:
            await call()
        assert caught.value.code is code and named in caught.value.message, caught.value

    service = platform.stub(IdentityServiceStub, tenant="*", role="service")
    verified = await service.VerifyApiToken(pb.VerifyApiTokenRequest(token=created.token))
    assert (verified.tenant_id, verified.role) == ("acme", "integration")
    assert sorted(verified.scopes) == ["customers:read", "customers:write"]

    await admin.RevokeApiToken(pb.RevokeApiTokenRequest(tenant=ACME, token_id=created.token_id))
    with pytest.raises(RpcError) as caught:
        await api.GetCustomer(pb.GetCustomerRequest(tenant=ACME, customer_id=made.customer.customer_id))
    assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(RpcError):
        await service.VerifyApiToken(pb.VerifyApiTokenRequest(token=created.token))


async def test_agents_carry_skills_languages_channels_brands_and_queues_and_bad_ones_are_refused(
    platform: Platform,
) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    stored = await admin.UpsertAgent(pb.UpsertAgentRequest(agent=agent("acme")))
    assert stored.agent.home_region == "eu" and stored.agent.revision > 0
    await admin.UpsertAgent(pb.UpsertAgentRequest(agent=agent("acme", "ag-bank", brands=["acme-bank"])))
    got = await admin.GetAgent(pb.GetAgentRequest(tenant=ACME, agent_id="ag-1"))
    assert [(s.name, s.proficiency) for s in got.agent.skills] == [("billing", 4)]
    assert list(got.agent.languages) == ["en", "de-AT"]
    assert [(c.channel, c.max_concurrent) for c in got.agent.channels] == [
        (common_pb2.CHANNEL_KIND_WEBCHAT, 3)
    ]
    # acme's brands are isolated: the retail brand sees only its agents.
    retail = await admin.ListAgents(pb.ListAgentsRequest(tenant=ACME))
    assert [a.agent_id for a in retail.agents] == ["ag-1"]
    everyone = await admin.ListAgents(pb.ListAgentsRequest(tenant=common_pb2.TenantRef(tenant_id="acme")))
    assert sorted(a.agent_id for a in everyone.agents) == ["ag-1", "ag-bank"]

    bad = [
        (agent("acme", skills=[pb.Skill(name="billing", proficiency=6)]), "proficiency must be 1-5"),
        (agent("acme", languages=["english!"]), "BCP 47"),
        (
            agent(
                "acme", channels=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_SMS, max_concurrent=0)]
            ),
            "max_concurrent",
        ),
        (agent("acme", brands=["acme-insurance"]), "acme-insurance"),
        (agent("acme", agent_id="a.b"), "agent_id"),
        (agent("acme", home_region="us"), "home_region"),
    ]
    for request, named in bad:
        with pytest.raises(RpcError) as caught:
            await admin.UpsertAgent(pb.UpsertAgentRequest(agent=request))
        assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT and named in caught.value.message
    unchanged = await admin.GetAgent(pb.GetAgentRequest(tenant=ACME, agent_id="ag-1"))
    assert unchanged.agent == got.agent
    supervisor = platform.stub(IdentityServiceStub, tenant="acme", role="supervisor")
    with pytest.raises(RpcError) as caught:
        await supervisor.UpsertAgent(pb.UpsertAgentRequest(agent=agent("acme")))
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED


async def test_an_isolated_brand_never_reaches_another_brands_customer(
    platform: Platform,
    acme_data: dict[str, str],
) -> None:
    bank = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-bank")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    retail_id = acme_data["customer"]
    calls = {
        "GetCustomer": pb.GetCustomerRequest(tenant=bank, customer_id=retail_id),
        "GetTimeline": pb.GetTimelineRequest(tenant=bank, customer_id=retail_id),
        "ListAuditRecords": pb.ListAuditRecordsRequest(tenant=bank, customer_id=retail_id),
        "AppendTimelineEntry": pb.AppendTimelineEntryRequest(
            tenant=bank,
            entry=pb.TimelineEntry(entry_id="x", customer_id=retail_id, kind=pb.TIMELINE_ENTRY_KIND_OUTCOME),
        ),
        "MergeCustomers": pb.MergeCustomersRequest(
            tenant=bank, target_customer_id=retail_id, source_customer_id=acme_data["other"], reason="x"
        ),
        "ForgetCustomer": pb.ForgetCustomerRequest(tenant=bank, customer_id=retail_id, reason="x"),
    }
    for method, request in calls.items():
        with pytest.raises(RpcError) as caught:
            await getattr(admin, method)(request)
        assert caught.value.code is grpc.StatusCode.NOT_FOUND, (method, caught.value)
    entries = await admin.GetTimeline(pb.GetTimelineRequest(tenant=ACME, customer_id=retail_id))
    assert [e.entry_id for e in entries.entries] == ["e1"]
