"""`merge_customers` and `unmerge_customer` over fakes: identifiers move, audits on both sides,
and an unmerge restores both customers as they were."""

from __future__ import annotations

import pytest
from fakes.identity_fakes import TENANT, FakeHistory, FakeProfiles, email, phone

from identity.domain.audit import MERGE, UNMERGE
from identity.service_layer.merge import CustomerMissing, MergeRefused, merge_customers, unmerge_customer
from identity.service_layer.resolve import ResolveContext, resolve_customer


async def two_customers(store: FakeProfiles) -> tuple[str, str]:
    ctx = ResolveContext(store=store, tenant_id=TENANT, scope=TENANT, region="eu")  # type: ignore[arg-type]
    a = await resolve_customer(ctx, [phone("+447700900001")])
    b = await resolve_customer(ctx, [email("jane@example.com")])
    assert a.customer is not None and b.customer is not None
    return a.customer.customer_id, b.customer.customer_id


async def test_a_merge_moves_the_sources_identifiers_and_audits_both_customers() -> None:
    store, history = FakeProfiles(), FakeHistory()
    target_id, source_id = await two_customers(store)
    target, record = await merge_customers(
        store,
        history,
        scope=TENANT,
        target_id=target_id,
        source_id=source_id,
        actor="sup-1",
        reason="same person",
    )
    assert email("jane@example.com") in target.identifiers and target.merged_from == (source_id,)
    assert await store.owner(TENANT, email("jane@example.com")) == target_id
    source, _ = await store.get(TENANT, source_id) or (None, 0)
    assert source is not None and source.merged_into == target_id
    assert record.action == MERGE and (record.actor, record.reason) == ("sup-1", "same person")
    assert history.audit_of(target_id) == [record] == history.audit_of(source_id)


async def test_an_unmerge_gives_the_source_its_identifiers_back() -> None:
    store, history = FakeProfiles(), FakeHistory()
    target_id, source_id = await two_customers(store)
    await merge_customers(
        store, history, scope=TENANT, target_id=target_id, source_id=source_id, actor="a", reason="r"
    )
    source, target, record = await unmerge_customer(
        store, history, scope=TENANT, source_id=source_id, actor="a", reason="not the same"
    )
    assert source.merged_into == "" and target.merged_from == ()
    assert email("jane@example.com") not in target.identifiers
    assert await store.owner(TENANT, email("jane@example.com")) == source_id
    assert record.action == UNMERGE and len(history.audit_of(source_id)) == 2


async def test_refusals_name_the_problem_and_change_nothing() -> None:
    store, history = FakeProfiles(), FakeHistory()
    target_id, source_id = await two_customers(store)
    before = dict(store.profiles)
    with pytest.raises(MergeRefused, match="must differ"):
        await merge_customers(
            store, history, scope=TENANT, target_id=target_id, source_id=target_id, actor="a", reason="r"
        )
    with pytest.raises(CustomerMissing, match="nobody"):
        await merge_customers(
            store, history, scope=TENANT, target_id=target_id, source_id="nobody", actor="a", reason="r"
        )
    with pytest.raises(MergeRefused, match="not merged"):
        await unmerge_customer(store, history, scope=TENANT, source_id=source_id, actor="a", reason="r")
    assert store.profiles == before and history.audits == []
