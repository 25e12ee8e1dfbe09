"""`forget_customer` over fakes: every trace of the person goes (timeline, links, index, profile,
the contacts' events, whatever else mentions them), merged customers with them, a tombstone and
an erasure audit stay; a customer merged into another is refused."""

from __future__ import annotations

import orjson
import pytest
from fakes.identity_fakes import (
    REGION,
    TENANT,
    FakeContactEvents,
    FakeGlobalIndex,
    FakeHistory,
    FakeProfiles,
    FakeScrubber,
    email,
    phone,
)

from identity.domain.audit import ERASURE
from identity.domain.timeline import TimelineEntry
from identity.service_layer.forget import forget_customer
from identity.service_layer.merge import MergeRefused, merge_customers
from identity.service_layer.resolve import ResolveContext, resolve_customer


class World:
    def __init__(self) -> None:
        self.store, self.history, self.index = FakeProfiles(), FakeHistory(), FakeGlobalIndex()
        self.scrubber = FakeScrubber({"KV_ai-eu": [b"summary of +447700900001", b"someone else"]})
        self.events = FakeContactEvents()

    async def customer(self, *identifiers: object, contact: str) -> str:
        ctx = ResolveContext(
            store=self.store,
            tenant_id=TENANT,
            scope=TENANT,
            region=REGION,
            global_index=self.index,  # type: ignore[arg-type]
        )
        resolved = await resolve_customer(ctx, list(identifiers))  # type: ignore[arg-type]
        assert resolved.customer is not None
        customer_id = resolved.customer.customer_id
        await self.history.append(
            TENANT, TimelineEntry(f"{contact}-1", customer_id, 1, 1, contact, 1.0, "hello")
        )
        self.events.events[(TENANT, contact)] = 3
        return customer_id

    async def forget(self, customer_id: str) -> tuple[dict[str, int], str]:
        found = await self.store.get(TENANT, customer_id)
        assert found is not None
        erased = await forget_customer(
            self.store,
            self.history,
            self.index,
            self.scrubber,
            self.events,
            customer=found[0],
            region=REGION,
            actor="dpo",
            reason="erasure request",
        )
        assert erased.incomplete == []
        return erased.removed, erased.tombstone


async def test_an_erasure_removes_every_trace_and_leaves_a_tombstone_and_an_audit() -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    other = await world.customer(email("other@example.com"), contact="c9")
    removed, tombstone = await world.forget(customer_id)
    assert await world.store.get(TENANT, customer_id) is None
    assert await world.store.owner(TENANT, phone("+447700900001")) is None
    assert await world.index.home_of(TENANT, TENANT, phone("+447700900001")) is None
    assert await world.history.timeline_keys(TENANT, customer_id) == []
    assert (TENANT, "c1") not in world.events.events
    assert await world.history.linked(TENANT, "c1") is None
    assert world.scrubber.stored["KV_ai-eu"] == [b"someone else"]
    assert removed[FakeContactEvents.stream] == 3 and removed["KV_ai-eu"] == 1
    assert removed[FakeHistory.stream] == 2  # the timeline entry and the contact's link
    assert tombstone == f"tomb.{TENANT}.{customer_id}"
    record = orjson.loads(world.store.tombstones[(TENANT, customer_id)])
    assert (record["actor"], record["reason"], record["removed"]) == ("dpo", "erasure request", removed)
    (audit,) = world.history.audit_of(customer_id)
    assert audit.action == ERASURE and audit.target_customer_id == customer_id
    # Someone else's data is untouched.
    assert await world.store.get(TENANT, other) is not None
    assert (TENANT, "c9") in world.events.events


async def test_customers_merged_into_the_erased_one_are_erased_with_it() -> None:
    world = World()
    target = await world.customer(phone("+447700900001"), contact="c1")
    source = await world.customer(email("jane@example.com"), contact="c2")
    await merge_customers(
        world.store, world.history, scope=TENANT, target_id=target, source_id=source, actor="a", reason="r"
    )
    await world.forget(target)
    for customer_id in (target, source):
        assert await world.store.get(TENANT, customer_id) is None
        assert await world.history.timeline_keys(TENANT, customer_id) == []
    assert world.events.events == {}
    assert await world.store.owner(TENANT, email("jane@example.com")) is None


async def test_a_customer_merged_into_another_is_refused_with_what_to_do() -> None:
    world = World()
    target = await world.customer(phone("+447700900001"), contact="c1")
    source = await world.customer(email("jane@example.com"), contact="c2")
    await merge_customers(
        world.store, world.history, scope=TENANT, target_id=target, source_id=source, actor="a", reason="r"
    )
    with pytest.raises(MergeRefused, match="erase that customer"):
        await world.forget(source)
    assert await world.store.get(TENANT, source) is not None and world.events.events
