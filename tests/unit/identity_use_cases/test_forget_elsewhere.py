"""Erasure over fakes, beyond identity's own stores: the person's consent records go and are
counted; every other service's part is asked with the whole merged group and every contact, its
counts land in the signed report; a part that fails is named in the result and the report, and
the rest of the erasure still happens."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from fakes.identity_fakes import (
    REGION,
    TENANT,
    FakeContactEvents,
    FakeGlobalIndex,
    FakeHistory,
    FakeProfiles,
    FakeScrubber,
    phone,
)

from ccmesh import naming
from ccmesh.retention_erasure import verify
from identity.domain.customer import Customer
from identity.domain.timeline import TimelineEntry
from identity.service_layer.forget import Erasure, forget_customer
from identity.service_layer.forget_report import signed_report
from identity.service_layer.resolve import ResolveContext, resolve_customer

SECRET = "s" * 32
IDENTITY_BUCKET = f"KV_{naming.identity_bucket(REGION)}"


class FakeConsents:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], int] = {}

    async def erase(self, scope: str, customer_id: str) -> int:
        return self.records.pop((scope, customer_id), 0)


class FakePart:
    def __init__(self, name: str, removed: dict[str, int] | None = None, error: str = "") -> None:
        self.name, self.removed, self.error = name, removed or {}, error
        self.asked: list[tuple[str, list[str], list[str]]] = []

    async def erase(
        self, tenant_id: str, customer_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> dict[str, int]:
        self.asked.append((tenant_id, list(customer_ids), list(contact_ids)))
        if self.error:
            raise RuntimeError(self.error)
        return self.removed


async def erase(
    *parts: FakePart, consents: FakeConsents, records: int = 3
) -> tuple[Customer, Erasure, FakeProfiles]:
    store, history = FakeProfiles(), FakeHistory()
    ctx = ResolveContext(store=store, tenant_id=TENANT, scope=TENANT, region=REGION)
    resolved = await resolve_customer(ctx, [phone("+447700900321")])  # type: ignore[list-item]
    assert resolved.customer is not None
    customer_id = resolved.customer.customer_id
    for contact in ("c1", "c2"):
        await history.append(TENANT, TimelineEntry(f"{contact}-1", customer_id, 1, 1, contact, 1.0, "hi"))
    if records:
        consents.records[(TENANT, customer_id)] = records
    found = await store.get(TENANT, customer_id)
    assert found is not None
    erased = await forget_customer(
        store,
        history,
        FakeGlobalIndex(),  # type: ignore[arg-type]
        FakeScrubber({}),
        FakeContactEvents(),
        customer=found[0],
        region=REGION,
        actor="dpo",
        reason="erasure request",
        consents=consents,
        elsewhere=parts,
    )
    return found[0], erased, store


async def test_consents_and_other_services_parts_are_erased_and_counted_in_the_signed_report() -> None:
    consents = FakeConsents()
    integration = FakePart("integration", {"analytics-eu": 4, "KV_integration-eu": 1})
    _, plain, _ = await erase(FakePart("integration"), consents=FakeConsents(), records=0)
    customer, erased, store = await erase(integration, consents=consents)
    customer_id = customer.customer_id

    assert consents.records == {}
    # Three consent records on top of the profile and index keys.
    assert erased.removed[IDENTITY_BUCKET] == plain.removed[IDENTITY_BUCKET] + 3
    assert integration.asked == [(TENANT, [customer_id], ["c1", "c2"])]
    assert erased.removed["analytics-eu"] == 4 and erased.removed["KV_integration-eu"] == 1
    assert erased.incomplete == []
    assert await store.get(TENANT, customer_id) is None
    report, signature = signed_report(
        SECRET,
        customer=customer,
        region=REGION,
        actor="dpo",
        reason="erasure request",
        removed=erased.removed,
        tombstone=erased.tombstone,
        incomplete=erased.incomplete,
    )
    document = verify(report, signature, SECRET)
    assert document["removed"]["analytics-eu"] == 4
    assert "incomplete" not in document


async def test_a_failing_part_is_named_in_the_result_and_the_report_and_the_rest_is_erased() -> None:
    failing = FakePart("integration", error="no responders on the region's integration service")
    working = FakePart("ai", {"ai-caches-eu": 2})
    customer, erased, store = await erase(failing, working, consents=FakeConsents())
    customer_id = customer.customer_id

    assert erased.incomplete == ["integration: no responders on the region's integration service"]
    assert erased.removed["ai-caches-eu"] == 2
    assert await store.get(TENANT, customer_id) is None
    tombstone = orjson.loads(store.tombstones[(TENANT, customer_id)])
    assert tombstone["incomplete"] == erased.incomplete
    report, signature = signed_report(
        SECRET,
        customer=customer,
        region=REGION,
        actor="dpo",
        reason="erasure request",
        removed=erased.removed,
        tombstone=erased.tombstone,
        incomplete=erased.incomplete,
    )
    assert verify(report, signature, SECRET)["incomplete"] == erased.incomplete
