"""A new customer's profile is written without reading first; one a concurrent resolver rebuilt
from the claims meanwhile is merged into, never overwritten."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from ccmesh.kv import ensure_bucket
from identity.adapters.profile_store import ProfileStore
from identity.domain.customer import Customer
from identity.domain.identifiers import Identifier, IdentifierKind

PHONE = Identifier(IdentifierKind.PHONE, "+4917000000001")
EMAIL = Identifier(IdentifierKind.EMAIL, "ada@example.com")


def customer(*identifiers: Identifier) -> Customer:
    return Customer(
        customer_id="cust-1", tenant_id="acme", scope="acme", home_region="eu", identifiers=identifiers
    )


async def test_a_new_profile_is_created_as_given(nc: NATS) -> None:
    store = ProfileStore(await ensure_bucket(nc.jetstream(), "identity-test"))
    created, revision = await store.create_or_merge(customer(PHONE))
    assert created == customer(PHONE) and revision > 0
    assert await store.get("acme", "cust-1") == (created, revision)


async def test_a_profile_rebuilt_meanwhile_is_merged_into(nc: NATS) -> None:
    store = ProfileStore(await ensure_bucket(nc.jetstream(), "identity-test"))
    rebuilt, _ = await store.create_or_merge(customer(EMAIL))
    merged, revision = await store.create_or_merge(customer(PHONE))
    assert set(merged.identifiers) == {EMAIL, PHONE}
    assert await store.get("acme", "cust-1") == (merged, revision)
    assert rebuilt.identifiers == (EMAIL,)
