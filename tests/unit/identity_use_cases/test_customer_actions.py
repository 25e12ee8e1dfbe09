"""`merge_customer_attributes` over fakes: attributes merge into the profile (through merges),
and refusals name the problem without changing anything."""

from __future__ import annotations

import pytest
from fakes.identity_fakes import TENANT, FakeHistory, FakeProfiles, email, phone

from identity.service_layer.customer_actions import (
    CustomerActionRefused,
    CustomerErased,
    merge_customer_attributes,
)
from identity.service_layer.merge import merge_customers
from identity.service_layer.resolve import ResolveContext, resolve_customer

BRAND_SCOPE = f"{TENANT}.acme-bank"


async def customer(store: FakeProfiles, scope: str, identifier: object, **attributes: str) -> str:
    ctx = ResolveContext(store=store, tenant_id=TENANT, scope=scope, region="eu")  # type: ignore[arg-type]
    resolved = await resolve_customer(ctx, [identifier], attributes)  # type: ignore[list-item]
    assert resolved.customer is not None
    return resolved.customer.customer_id


async def test_attributes_merge_into_the_profile_of_whichever_scope_holds_it() -> None:
    store = FakeProfiles()
    customer_id = await customer(store, BRAND_SCOPE, phone("+447700900001"), tier="gold")
    merged = await merge_customer_attributes(store, [TENANT, BRAND_SCOPE], customer_id, {"crm": "42"})
    assert merged.scope == BRAND_SCOPE and merged.via == ""
    assert merged.customer.attributes == {"tier": "gold", "crm": "42"}


async def test_a_customer_merged_into_another_passes_the_attributes_on() -> None:
    store = FakeProfiles()
    target = await customer(store, TENANT, phone("+447700900001"))
    source = await customer(store, TENANT, email("jane@example.com"))
    await merge_customers(
        store, FakeHistory(), scope=TENANT, target_id=target, source_id=source, actor="a", reason="r"
    )
    merged = await merge_customer_attributes(store, [TENANT], source, {"crm": "42"})
    assert merged.customer.customer_id == target and merged.via == source


async def test_refusals_name_the_problem_and_change_nothing() -> None:
    store = FakeProfiles()
    customer_id = await customer(store, TENANT, phone("+447700900001"))
    before = dict(store.profiles)
    with pytest.raises(CustomerActionRefused, match="not 1-64"):
        await merge_customer_attributes(store, [TENANT], "a.b", {"x": "1"})
    with pytest.raises(CustomerActionRefused, match="not known"):
        await merge_customer_attributes(store, [TENANT], "nobody", {"x": "1"})
    with pytest.raises(CustomerActionRefused, match="entries"):
        await merge_customer_attributes(store, [TENANT], customer_id, {str(i): "v" for i in range(500)})
    await store.put_tombstone(TENANT, "erased-1", b"{}")
    with pytest.raises(CustomerErased):
        await merge_customer_attributes(store, [TENANT], "erased-1", {"x": "1"})
    assert store.profiles == before
