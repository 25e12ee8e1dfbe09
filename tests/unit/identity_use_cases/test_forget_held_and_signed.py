"""Erasure over fakes: a legal hold on the person or one of their contacts refuses it before
anything is removed, the object stores are asked with every identifier and contact, and the
report is signed so that any change to it is detected. Legal holds copy what they keep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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

from ccmesh.retention_erasure import ErasureReportError, sign, verify
from ccmesh.retention_holds import EVENTS, KEYS, OBJECTS, HeldCopy, LegalHold, LegalHoldError, new_hold
from identity.domain.timeline import TimelineEntry
from identity.service_layer.forget import ErasureHeld, forget_customer
from identity.service_layer.forget_report import signed_report
from identity.service_layer.legal_hold import place_legal_hold, release_legal_hold
from identity.service_layer.resolve import ResolveContext, resolve_customer

SECRET = "k" * 32


class FakeObjects:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.asked: list[bytes] = []

    async def erase(self, needles: Sequence[bytes]) -> dict[str, int]:
        self.asked.extend(needles)
        gone = [n for n in self.names if any(needle.decode() in n for needle in needles)]
        self.names = [n for n in self.names if n not in gone]
        return {"OBJ_attachments-eu": len(gone)} if gone else {}


class FakeHolds:
    def __init__(self) -> None:
        self.placed: dict[str, tuple[LegalHold, list[HeldCopy]]] = {}
        self.events: dict[str, list[HeldCopy]] = {}

    async def holds(self, tenant_id: str | None = None) -> list[LegalHold]:
        return [h for h, _ in self.placed.values() if tenant_id in (None, h.tenant_id)]

    async def contact_events(self, tenant_id: str, contact_id: str) -> list[HeldCopy]:
        return self.events.get(contact_id, [])

    async def bucket_entries(self, bucket: str, patterns: Sequence[str]) -> list[HeldCopy]:
        return [HeldCopy(KEYS, f"{bucket}/{pattern}", b"entry") for pattern in patterns]

    async def objects_naming(self, needles: Sequence[str]) -> list[HeldCopy]:
        return [
            # Contacts' recordings ("c1"); a customer id (random hex) may start with "c" too.
            HeldCopy(OBJECTS, f"attachments-eu/{n}/rec.wav", b"RIFF")
            for n in needles
            if n[:1] == "c" and n[1:].isdigit()
        ]

    async def objects_of_contact(self, tenant_id: str, contact_id: str) -> list[str]:
        return []

    async def place(self, hold: LegalHold, copies: Sequence[HeldCopy]) -> LegalHold:
        held: dict[str, int] = {}
        for copy in copies:
            held[copy.kind] = held.get(copy.kind, 0) + 1
        placed = replace(hold, held=held)
        self.placed[hold.hold_id] = (placed, list(copies))
        return placed

    async def release(self, tenant_id: str, hold_id: str) -> int:
        if hold_id not in self.placed:
            raise LegalHoldError(f"no legal hold {hold_id!r}")
        return len(self.placed.pop(hold_id)[1])


class World:
    def __init__(self) -> None:
        self.store, self.history, self.index = FakeProfiles(), FakeHistory(), FakeGlobalIndex()
        self.scrubber = FakeScrubber()
        self.events = FakeContactEvents()
        self.objects = FakeObjects(["acme/c1/recording.wav", "acme/c9/recording.wav"])
        self.holds = FakeHolds()

    async def customer(self, identifier: object, contact: str) -> str:
        ctx = ResolveContext(
            store=self.store,
            tenant_id=TENANT,
            scope=TENANT,
            region=REGION,
            global_index=self.index,  # type: ignore[arg-type]
        )
        resolved = await resolve_customer(ctx, [identifier])  # type: ignore[list-item]
        assert resolved.customer is not None
        customer_id = resolved.customer.customer_id
        await self.history.append(
            TENANT, TimelineEntry(f"{contact}-1", customer_id, 1, 1, contact, 1.0, "hi")
        )
        self.events.events[(TENANT, contact)] = 2
        return customer_id

    async def forget(self, customer_id: str) -> dict[str, int]:
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
            objects=self.objects,
            holds=self.holds,
        )
        return erased.removed

    async def hold(self, *, customer_id: str = "", contact_id: str = "") -> LegalHold:
        return await place_legal_hold(
            self.holds,
            self.history,
            tenant_id=TENANT,
            history_bucket="identity-history-eu",
            customer_id=customer_id,
            contact_id=contact_id,
            reason="litigation 7",
            actor="counsel",
        )


async def test_erasure_reaches_the_object_stores_with_every_identifier_and_contact() -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    removed = await world.forget(customer_id)
    assert removed["OBJ_attachments-eu"] == 1
    assert world.objects.names == ["acme/c9/recording.wav"]
    assert {b"+447700900001", b"c1", customer_id.encode()} <= set(world.objects.asked)


@pytest.mark.parametrize("held", ["customer", "contact"])
async def test_a_legal_hold_refuses_erasure_before_anything_is_removed(held: str) -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    hold = await (world.hold(customer_id=customer_id) if held == "customer" else world.hold(contact_id="c1"))
    with pytest.raises(ErasureHeld, match=f"legal hold '{hold.hold_id}'.*litigation 7.*release the hold"):
        await world.forget(customer_id)
    assert await world.store.get(TENANT, customer_id) is not None
    assert await world.history.timeline_keys(TENANT, customer_id)
    assert world.events.events[(TENANT, "c1")] == 2
    assert world.objects.names == ["acme/c1/recording.wav", "acme/c9/recording.wav"]

    await release_legal_hold(world.holds, tenant_id=TENANT, hold_id=hold.hold_id)
    assert (await world.forget(customer_id))["OBJ_attachments-eu"] == 1


async def test_a_hold_on_someone_else_does_not_stop_an_erasure() -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    other = await world.customer(email("other@example.com"), contact="c9")
    await world.hold(customer_id=other)
    await world.hold(contact_id="c9")
    assert (await world.forget(customer_id))[FakeContactEvents.stream] == 2


async def test_a_customer_hold_copies_events_of_every_contact_timeline_audit_and_objects() -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    world.holds.events["c1"] = [HeldCopy(EVENTS, "c1", b"[...]")]
    hold = await world.hold(customer_id=customer_id)
    assert hold.contact_ids == ("c1",) and hold.placed_by == "counsel"
    assert dict(hold.held) == {KEYS: 2, EVENTS: 1, OBJECTS: 1}
    _, copies = world.holds.placed[hold.hold_id]
    assert {c.name for c in copies if c.kind == KEYS} == {
        f"identity-history-eu/tl.{TENANT}.{customer_id}.>",
        f"identity-history-eu/au.{TENANT}.{customer_id}.>",
    }


def test_a_hold_names_exactly_one_target_and_a_reason() -> None:
    for customer_id, contact_id in (("", ""), ("cust", "c1")):
        with pytest.raises(LegalHoldError, match="exactly one"):
            new_hold(TENANT, customer_id=customer_id, contact_id=contact_id, reason="r", placed_by="x")
    with pytest.raises(LegalHoldError, match="needs a reason"):
        new_hold(TENANT, customer_id="cust", contact_id="", reason="  ", placed_by="x")


async def test_releasing_an_unknown_hold_says_so() -> None:
    with pytest.raises(LegalHoldError, match="hold_id: required"):
        await release_legal_hold(FakeHolds(), tenant_id=TENANT, hold_id=" ")
    with pytest.raises(LegalHoldError, match="no legal hold 'nope'"):
        await release_legal_hold(FakeHolds(), tenant_id=TENANT, hold_id="nope")


async def test_the_erasure_report_is_signed_and_any_change_is_detected() -> None:
    world = World()
    customer_id = await world.customer(phone("+447700900001"), contact="c1")
    found = await world.store.get(TENANT, customer_id)
    assert found is not None
    removed = {"events-eu": 2, "OBJ_attachments-eu": 1}
    report, signature = signed_report(
        SECRET, customer=found[0], region=REGION, actor="dpo", reason="r", removed=removed, tombstone="t"
    )
    document = verify(report, signature, SECRET)
    assert document["removed"] == removed and document["total"] == 3
    assert document["customerId"] == customer_id and document["actor"] == "dpo"
    assert orjson.loads(report) == document
    lowered = report.replace('"events-eu":2', '"events-eu":1')
    assert lowered != report
    for text, sig, secret in ((lowered, signature, SECRET), (report, signature, "other" * 8)):
        with pytest.raises(ErasureReportError, match="does not match"):
            verify(text, sig, secret)
    with pytest.raises(ErasureReportError, match="no signature"):
        verify(report, "", SECRET)
    with pytest.raises(ErasureReportError, match="not an erasure report"):
        verify("[]", sign("[]", SECRET), SECRET)
    with pytest.raises(ErasureReportError, match="not JSON"):
        verify("{", sign("{", SECRET), SECRET)
