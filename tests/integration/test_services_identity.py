"""The identity service over the mesh: one customer across channels, clear errors, no partial writes."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from _platform import Platform

from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

PHONE = common_pb2.IDENTIFIER_KIND_PHONE
EMAIL = common_pb2.IDENTIFIER_KIND_EMAIL
WHATSAPP = common_pb2.IDENTIFIER_KIND_WHATSAPP_ID
UNSPECIFIED = common_pb2.IDENTIFIER_KIND_UNSPECIFIED


def ident(kind: int, value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=kind, value=value)  # type: ignore[arg-type]


def resolve_request(
    *identifiers: common_pb2.Identifier, tenant: str = "acme", brand: str = "acme-retail"
) -> Any:
    return identity_pb2.ResolveCustomerRequest(
        tenant=common_pb2.TenantRef(tenant_id=tenant, brand_id=brand), identifiers=list(identifiers)
    )


def get_request(customer_id: str, tenant: str = "acme", brand: str = "acme-retail") -> Any:
    return identity_pb2.GetCustomerRequest(
        tenant=common_pb2.TenantRef(tenant_id=tenant, brand_id=brand), customer_id=customer_id
    )


def stored(customer: identity_pb2.Customer) -> set[tuple[int, str]]:
    return {(i.kind, i.value) for i in customer.identifiers}


async def failure(call: Any) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await call
    return caught.value


@pytest.fixture
async def identity(platform: Platform) -> Any:
    await platform.start("identity")
    return platform.stub(IdentityServiceStub, tenant="acme", role="agent")


async def test_resolve_creates_once_then_finds_the_same_customer_and_attaches_new_identifiers(
    identity: Any,
) -> None:
    first = await identity.ResolveCustomer(resolve_request(ident(PHONE, "+49 151 2345-6789")))
    assert first.created
    customer_id = first.customer.customer_id
    assert stored(first.customer) == {(PHONE, "+4915123456789")}
    assert first.customer.tenant.tenant_id == "acme"
    assert first.customer.home_region == "eu"

    again = await identity.ResolveCustomer(resolve_request(ident(PHONE, "0049 151 23456789")))
    assert (again.created, again.customer.customer_id) == (False, customer_id)

    with_email = await identity.ResolveCustomer(
        resolve_request(ident(PHONE, "+4915123456789"), ident(EMAIL, " Jane.Doe@Example.COM "))
    )
    assert (with_email.created, with_email.customer.customer_id) == (False, customer_id)
    assert stored(with_email.customer) == {(PHONE, "+4915123456789"), (EMAIL, "jane.doe@example.com")}

    # The e-mail alone now finds the same customer.
    by_email = await identity.ResolveCustomer(resolve_request(ident(EMAIL, "jane.doe@example.com")))
    assert (by_email.created, by_email.customer.customer_id) == (False, customer_id)

    fetched = await identity.GetCustomer(get_request(customer_id))
    assert fetched.customer.customer_id == customer_id
    assert stored(fetched.customer) == stored(with_email.customer)
    assert fetched.customer.revision > 0


async def test_sms_phone_and_whatsapp_id_of_the_same_number_are_one_customer(identity: Any) -> None:
    sms = await identity.ResolveCustomer(resolve_request(ident(PHONE, "+44 7700 900123")))
    whatsapp = await identity.ResolveCustomer(resolve_request(ident(WHATSAPP, "447700900123")))
    assert sms.created
    assert (whatsapp.created, whatsapp.customer.customer_id) == (False, sms.customer.customer_id)
    # A WhatsApp id is stored as the phone identifier it is.
    assert stored(whatsapp.customer) == {(PHONE, "+447700900123")}


async def test_isolated_brands_keep_separate_customers_for_the_same_phone(identity: Any) -> None:
    retail = await identity.ResolveCustomer(resolve_request(ident(PHONE, "+4930123456"), brand="acme-retail"))
    bank = await identity.ResolveCustomer(resolve_request(ident(PHONE, "+4930123456"), brand="acme-bank"))
    assert retail.created and bank.created
    assert retail.customer.customer_id != bank.customer.customer_id

    hidden = await failure(identity.GetCustomer(get_request(retail.customer.customer_id, brand="acme-bank")))
    assert hidden.code is grpc.StatusCode.NOT_FOUND


async def test_customer_id_cannot_reach_outside_the_callers_scope(identity: Any) -> None:
    bank = await identity.ResolveCustomer(resolve_request(ident(PHONE, "+4930999888"), brand="acme-bank"))
    bank_id = bank.customer.customer_id
    # From another brand's scope, a dotted id must not walk into the bank's.
    for customer_id in (f"acme-bank.{bank_id}", "", "*", ">", "a b", "x" * 65):
        error = await failure(identity.GetCustomer(get_request(customer_id, brand="acme-retail")))
        assert error.code is grpc.StatusCode.INVALID_ARGUMENT, (customer_id, error)
        assert "customer_id" in error.message
    # The same id within its own brand is found.
    found = await identity.GetCustomer(get_request(bank_id, brand="acme-bank"))
    assert found.customer.customer_id == bank_id


async def test_get_tenant_lists_the_configured_brands(identity: Any) -> None:
    reply = await identity.GetTenant(identity_pb2.GetTenantRequest(tenant_id="acme"))
    assert reply.tenant.tenant_id == "acme"
    assert reply.tenant.display_name == "ACME Corporation"
    assert [(b.brand_id, b.display_name) for b in reply.tenant.brands] == [
        ("acme-retail", "ACME Retail"),
        ("acme-bank", "ACME Bank"),
    ]


EXISTING_PHONE = "+4915199999999"
NEW_EMAIL = "new@example.com"


@pytest.mark.parametrize(
    ("bad", "brand", "code", "named"),
    [
        pytest.param(
            [ident(PHONE, "call me maybe")],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[2]", "phone", "call me maybe", "E.164"],
            id="unparsable-phone",
        ),
        pytest.param(
            [ident(EMAIL, "not-an-address")],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[2]", "email", "not-an-address"],
            id="bad-email",
        ),
        pytest.param(
            [ident(WHATSAPP, "   ")],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[2]", "whatsapp_id", "empty"],
            id="blank-value",
        ),
        pytest.param(
            [ident(EMAIL, "x" * 300 + "@example.com")],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[2]", "email", "maximum"],
            id="oversized-value",
        ),
        pytest.param(
            [ident(EMAIL, f"u{n}@example.com") for n in range(19)],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers", "at most 20"],
            id="too-many",
        ),
        pytest.param(
            [ident(UNSPECIFIED, "+4915100000000")],
            "acme-retail",
            grpc.StatusCode.INVALID_ARGUMENT,
            ["identifiers[2].kind", "unspecified"],
            id="unspecified-kind",
        ),
        pytest.param(
            [],
            "acme-insurance",
            grpc.StatusCode.NOT_FOUND,
            ["brand", "acme-insurance", "acme"],
            id="unknown-brand",
        ),
    ],
)
async def test_bad_resolve_input_names_the_problem_and_changes_nothing(
    identity: Any, bad: list[common_pb2.Identifier], brand: str, code: grpc.StatusCode, named: list[str]
) -> None:
    existing = await identity.ResolveCustomer(resolve_request(ident(PHONE, EXISTING_PHONE)))
    before = await identity.GetCustomer(get_request(existing.customer.customer_id))
    # The bad request also names the existing phone and a new e-mail: neither may be touched.
    request = resolve_request(ident(PHONE, EXISTING_PHONE), ident(EMAIL, NEW_EMAIL), *bad, brand=brand)

    error = await failure(identity.ResolveCustomer(request))

    assert error.code is code
    for word in named:
        assert word in error.message, (word, error.message)
    after = await identity.GetCustomer(get_request(existing.customer.customer_id))
    assert after.customer == before.customer
    # Nothing was claimed either: the e-mail is still unknown and creates a new customer.
    fresh = await identity.ResolveCustomer(resolve_request(ident(EMAIL, NEW_EMAIL)))
    assert fresh.created
    assert fresh.customer.customer_id != existing.customer.customer_id


async def test_empty_identifier_set_is_invalid_and_changes_nothing(identity: Any) -> None:
    existing = await identity.ResolveCustomer(resolve_request(ident(PHONE, EXISTING_PHONE)))
    before = await identity.GetCustomer(get_request(existing.customer.customer_id))

    error = await failure(identity.ResolveCustomer(resolve_request()))

    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "identifiers" in error.message
    assert "at least one" in error.message
    after = await identity.GetCustomer(get_request(existing.customer.customer_id))
    assert after.customer == before.customer


async def test_unknown_tenant_is_not_found_names_the_tenant_and_changes_nothing(
    platform: Platform,
    identity: Any,
) -> None:
    existing = await identity.ResolveCustomer(resolve_request(ident(PHONE, EXISTING_PHONE)))
    before = await identity.GetCustomer(get_request(existing.customer.customer_id))
    initech = platform.stub(IdentityServiceStub, tenant="initech", role="admin")
    for call in (
        initech.GetTenant(identity_pb2.GetTenantRequest(tenant_id="initech")),
        initech.ResolveCustomer(resolve_request(ident(PHONE, EXISTING_PHONE), tenant="initech", brand="")),
        initech.GetCustomer(get_request(existing.customer.customer_id, tenant="initech", brand="")),
    ):
        error = await failure(call)
        assert error.code is grpc.StatusCode.NOT_FOUND
        assert "'initech'" in error.message
        assert "not served" in error.message
    after = await identity.GetCustomer(get_request(existing.customer.customer_id))
    assert after.customer == before.customer


async def test_unknown_customer_is_not_found(identity: Any) -> None:
    error = await failure(identity.GetCustomer(get_request("0" * 32)))
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert "0" * 32 in error.message


@pytest.mark.parametrize("number", ["+33 6 12 34 56 78", "+33 6 12 34 56 79", "+33 6 12 34 56 80"])
async def test_concurrent_resolution_of_one_new_phone_yields_one_customer(identity: Any, number: str) -> None:
    # The same number written three ways, from ten callers at once.
    spellings = [number, number.replace(" ", ""), "00" + number[1:]]
    replies = await asyncio.gather(
        *(identity.ResolveCustomer(resolve_request(ident(PHONE, spellings[n % 3]))) for n in range(10))
    )
    assert len({reply.customer.customer_id for reply in replies}) == 1
    assert sum(reply.created for reply in replies) == 1
    fetched = await identity.GetCustomer(get_request(replies[0].customer.customer_id))
    assert stored(fetched.customer) == {(PHONE, number.replace(" ", ""))}


async def test_concurrent_resolution_of_several_new_identifiers_yields_one_complete_customer(
    identity: Any,
) -> None:
    phone, email = ident(PHONE, "+33 6 98 76 54 32"), ident(EMAIL, "marie@example.fr")
    # Half the callers name the identifiers in the other order: the hardest case for claiming.
    replies = await asyncio.gather(
        *(
            identity.ResolveCustomer(resolve_request(*((phone, email) if n % 2 else (email, phone))))
            for n in range(10)
        )
    )
    assert len({reply.customer.customer_id for reply in replies}) == 1
    assert sum(reply.created for reply in replies) == 1
    fetched = await identity.GetCustomer(get_request(replies[0].customer.customer_id))
    assert stored(fetched.customer) == {(PHONE, "+33698765432"), (EMAIL, "marie@example.fr")}
    for alone in (phone, email):
        again = await identity.ResolveCustomer(resolve_request(alone))
        assert again.customer.customer_id == fetched.customer.customer_id
