"""Bad input gets INVALID_ARGUMENT or NOT_FOUND naming the problem, and nothing stored changes."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import REGION, Platform

from ccmesh import naming
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

GLOBEX = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
PHONE, EMAIL = common_pb2.IDENTIFIER_KIND_PHONE, common_pb2.IDENTIFIER_KIND_EMAIL
NEW_PHONE = "+4917699887766"


def ident(kind: int, value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=kind, value=value)  # type: ignore[arg-type]


async def stored_state(platform: Platform) -> dict[str, tuple[int, int]]:
    """(messages, last sequence) of every stream: any write would change it. The access audit
    log is left out: recording who tried what, refused calls included, is its purpose."""
    js = platform.nc.jetstream()
    audit = naming.audit_stream(REGION).name
    return {
        i.config.name: (i.state.messages, i.state.last_seq)
        for i in await js.streams_info()
        if i.config.name != audit
    }


def bad_requests(customer_id: str) -> list[tuple[str, str, Any, grpc.StatusCode, list[str]]]:
    """(tenant of the token, method, request, code, words the message must contain)."""
    good = ident(PHONE, NEW_PHONE)
    return [
        (
            "globex",
            "ResolveCustomer",
            pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[good, ident(PHONE, "12-34 not a number")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[1]", "phone", "E.164"],
        ),
        (
            "globex",
            "ResolveCustomer",
            pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[]),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers", "at least one"],
        ),
        (
            "initech",
            "ResolveCustomer",
            pb.ResolveCustomerRequest(tenant=common_pb2.TenantRef(tenant_id="initech"), identifiers=[good]),
            grpc.StatusCode.NOT_FOUND,
            ["tenant", "initech"],
        ),
        (
            "globex",
            "ResolveCustomer",
            pb.ResolveCustomerRequest(
                tenant=GLOBEX, identifiers=[good], attributes={f"k{n}": "v" for n in range(101)}
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["attributes", "101", "100"],
        ),
        (
            "globex",
            "ResolveCustomer",
            pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[good], attributes={"notes": "x" * 20000}),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["attributes", "bytes", "16384"],
        ),
        (
            "globex",
            "GetTimeline",
            pb.GetTimelineRequest(tenant=GLOBEX, customer_id=customer_id, page_token="abc"),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_token"],
        ),
        (
            "globex",
            "GetTimeline",
            pb.GetTimelineRequest(tenant=GLOBEX, customer_id=customer_id, page_size=500),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_size", "200"],
        ),
        (
            "globex",
            "AppendTimelineEntry",
            pb.AppendTimelineEntryRequest(
                tenant=GLOBEX, entry=pb.TimelineEntry(entry_id="e", customer_id=customer_id)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["entry.kind"],
        ),
        (
            "globex",
            "AppendTimelineEntry",
            pb.AppendTimelineEntryRequest(
                tenant=GLOBEX,
                entry=pb.TimelineEntry(
                    entry_id="e", customer_id="0" * 32, kind=pb.TIMELINE_ENTRY_KIND_OUTCOME
                ),
            ),
            grpc.StatusCode.NOT_FOUND,
            ["0" * 32],
        ),
        (
            "globex",
            "ForgetCustomer",
            pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=customer_id),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["reason"],
        ),
        (
            "globex",
            "CreateApiToken",
            pb.CreateApiTokenRequest(tenant=GLOBEX, role="root", ttl_seconds=600),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["role", "root"],
        ),
        (
            "globex",
            "CreateApiToken",
            pb.CreateApiTokenRequest(tenant=GLOBEX, role="agent", scopes=["everything"], ttl_seconds=600),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["scopes", "everything"],
        ),
        (
            "globex",
            "CreateApiToken",
            pb.CreateApiTokenRequest(tenant=GLOBEX, role="agent", ttl_seconds=5),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["ttl_seconds"],
        ),
    ]


async def test_bad_input_names_the_problem_and_stores_nothing(platform: Platform) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    existing = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=GLOBEX, identifiers=[ident(EMAIL, "keep@example.org")], attributes={"tier": "gold"}
        )
    )
    customer_id = existing.customer.customer_id
    before = await stored_state(platform)
    for tenant, method, request, code, words in bad_requests(customer_id):
        stub = platform.stub(IdentityServiceStub, tenant=tenant, role="admin")
        with pytest.raises(RpcError) as caught:
            await getattr(stub, method)(request)
        assert caught.value.code is code, (method, caught.value)
        for word in words:
            assert word in caught.value.message, (method, word, caught.value.message)
        assert await stored_state(platform) == before, method
    # The phone named next to the bad ones was never claimed: it makes a new customer now.
    fresh = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[ident(PHONE, NEW_PHONE)])
    )
    assert fresh.created
    kept = await admin.GetCustomer(pb.GetCustomerRequest(tenant=GLOBEX, customer_id=customer_id))
    assert dict(kept.customer.attributes) == {"tier": "gold"}


async def test_matching_rules_per_tenant_make_email_only_a_suggestion(platform: Platform) -> None:
    from _platform import eu_contact_center

    from ccmesh.configplane.models import IdentityMatching

    document = eu_contact_center()
    tenants = [
        t.model_copy(
            update={
                "identity_matching": IdentityMatching(exact=["phone", "crm_external_id"], suggest=["email"])
            }
        )
        if t.id == "globex"
        else t
        for t in document.spec.tenants
    ]
    await platform.apply(
        document.model_copy(update={"spec": document.spec.model_copy(update={"tenants": tenants})})
    )
    await platform.start("identity")
    agent = platform.stub(IdentityServiceStub, tenant="globex", role="agent")
    first = await agent.ResolveCustomer(
        pb.ResolveCustomerRequest(tenant=GLOBEX, identifiers=[ident(EMAIL, "shared@example.org")])
    )
    # A new phone with the same e-mail: e-mail only suggests, so this is a new customer with a suggestion.
    second = await agent.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=GLOBEX, identifiers=[ident(PHONE, "+4917611112222"), ident(EMAIL, "shared@example.org")]
        )
    )
    assert second.created and second.customer.customer_id != first.customer.customer_id
    assert [(s.customer_id, s.rule) for s in second.suggestions] == [
        (first.customer.customer_id, "suggest:email")
    ]
    assert {i.value for i in second.customer.identifiers} == {"+4917611112222"}
    # The phone (exact) finds the second customer again, and still suggests the first.
    again = await agent.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=GLOBEX, identifiers=[ident(EMAIL, "shared@example.org"), ident(PHONE, "+49 176 1111 2222")]
        )
    )
    assert not again.created and again.customer.customer_id == second.customer.customer_id
    assert [s.customer_id for s in again.suggestions] == [first.customer.customer_id]
