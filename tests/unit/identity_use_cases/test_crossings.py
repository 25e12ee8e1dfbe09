"""`resolve_from_region` and `record_crossing` over fakes: the residency policy decides what
another region learns, and every answer leaves a crossing and an audit record."""

from __future__ import annotations

import pytest
from fakes.identity_fakes import REGION, TENANT, FakeHistory, FakeProfiles, phone

from identity.domain.audit import CROSSING
from identity.domain.residency import CrossingKind, IndexKeys
from identity.service_layer.crossings import NoCustomerHere, record_crossing, resolve_from_region
from identity.service_layer.resolve import ResolveContext, resolve_customer

KEYS = IndexKeys(b"k" * 32)


async def answer(store: FakeProfiles, history: FakeHistory, asking: str) -> object:
    return await resolve_from_region(
        store,
        history,
        KEYS,
        tenant_id=TENANT,
        scope=TENANT,
        region=REGION,
        identifiers=[phone("+447700900001")],
        requesting_region=asking,
        actor="identity@us",
        personal_data_regions=["uk"],
        pseudonymous_regions=["us"],
    )


async def a_customer(store: FakeProfiles) -> str:
    ctx = ResolveContext(store=store, tenant_id=TENANT, scope=TENANT, region=REGION)  # type: ignore[arg-type]
    resolved = await resolve_customer(ctx, [phone("+447700900001")])
    assert resolved.customer is not None
    return resolved.customer.customer_id


@pytest.mark.parametrize(
    ("asking", "kind", "personal", "referenced"),
    [
        ("uk", CrossingKind.PERSONAL, True, True),
        ("us", CrossingKind.PSEUDONYMOUS, False, True),
        ("ap-southeast", CrossingKind.NONE, False, False),
    ],
)
async def test_the_policy_decides_what_crosses_and_each_answer_is_recorded_and_audited(
    asking: str, kind: CrossingKind, personal: bool, referenced: bool
) -> None:
    store, history = FakeProfiles(), FakeHistory()
    customer_id = await a_customer(store)
    reply = await answer(store, history, asking)
    assert reply.kind is kind  # type: ignore[attr-defined]
    assert (reply.customer is not None) is personal  # type: ignore[attr-defined]
    assert bool(reply.reference) is referenced  # type: ignore[attr-defined]
    if referenced:
        assert reply.reference == KEYS.reference(TENANT, REGION, customer_id)  # type: ignore[attr-defined]
    ((tenant, crossing),) = history.crossings
    assert (tenant, crossing.customer_id, crossing.to_region, crossing.kind) == (
        TENANT,
        customer_id,
        asking,
        str(kind),
    )
    (audit,) = history.audit_of(customer_id)
    assert audit.action == CROSSING and audit.reason == f"{kind} to {asking}"


async def test_no_match_here_is_refused_and_records_nothing() -> None:
    store, history = FakeProfiles(), FakeHistory()
    with pytest.raises(NoCustomerHere, match="no customer of tenant 'acme'"):
        await answer(store, history, "uk")
    assert history.crossings == [] and history.audits == []


async def test_a_view_from_another_region_is_recorded_with_its_reason() -> None:
    history = FakeHistory()
    crossing = await record_crossing(
        history,
        tenant_id=TENANT,
        customer_id="cust-1",
        from_region=REGION,
        to_region="us",
        kind=CrossingKind.VIEW,
        actor="agent-7",
        note="follow-the-sun hand-over",
    )
    assert crossing.kind == "view" and history.crossings == [(TENANT, crossing)]
    (audit,) = history.audit_of("cust-1")
    assert audit.reason == "view to us: follow-the-sun hand-over"
