"""The gateway's contact records on a real KV bucket: a change starts from the record as this
instance last wrote it instead of reading it back, and still never loses another instance's write."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from _mesh import CountingBucket
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh.kv import ensure_bucket
from gateway.adapters.contact_store import ContactStore
from gateway.domain.contact import ChannelLeg, ContactRecord

TENANT = "acme"


@pytest.fixture
async def kv(nc: NATS) -> KeyValue:
    return await ensure_bucket(nc.jetstream(), "gateway-test")


def first_record(contact_id: str) -> ContactRecord:
    return ContactRecord(
        contact_id=contact_id, tenant_id=TENANT, brand_id="b", customer_id="cust-1", entry_point="ep"
    )


def with_language(language: str) -> Any:
    return lambda current: replace(current, language=language)


async def test_a_new_contact_is_created_and_changed_without_reading_its_record_back(kv: KeyValue) -> None:
    bucket = CountingBucket(kv)
    store = ContactStore(bucket)  # type: ignore[arg-type]
    contact_id, created = await store.open_contact(TENANT, "cust-1")
    assert created
    await store.change_contact(TENANT, contact_id, lambda current: current or first_record(contact_id))
    leg = ChannelLeg(channel="sms", endpoint="ep", address="+4917000000001")
    await store.change_contact(TENANT, contact_id, lambda current: current.with_leg(leg))
    changed = await store.change_contact(TENANT, contact_id, lambda current: replace(current, started=True))
    assert bucket.gets == 0
    stored, revision = await ContactStore(kv).contact(TENANT, contact_id)
    assert stored == changed and stored.started and stored.legs["sms"] == leg and revision > 0


async def test_a_change_made_by_another_instance_meanwhile_is_kept(kv: KeyValue) -> None:
    mine, other = ContactStore(kv), ContactStore(kv)
    contact_id, _ = await mine.open_contact(TENANT, "cust-1")
    await mine.change_contact(TENANT, contact_id, lambda current: current or first_record(contact_id))
    await other.change_contact(TENANT, contact_id, with_language("de"))
    # `mine` remembers the record before the other instance's change: its write is refused, it
    # reads the record and applies its change on top.
    changed = await mine.change_contact(TENANT, contact_id, lambda current: replace(current, started=True))
    assert changed.language == "de" and changed.started
    stored, _ = await other.contact(TENANT, contact_id)
    assert stored == changed


async def test_a_record_created_elsewhere_before_the_first_change_is_read_not_overwritten(
    kv: KeyValue,
) -> None:
    mine, other = ContactStore(kv), ContactStore(kv)
    contact_id, _ = await mine.open_contact(TENANT, "cust-1")
    await other.change_contact(
        TENANT, contact_id, lambda current: replace(first_record(contact_id), language="fr")
    )
    changed = await mine.change_contact(
        TENANT, contact_id, lambda current: current or first_record(contact_id)
    )
    assert changed.language == "fr"


async def test_the_remembered_records_are_bounded(kv: KeyValue) -> None:
    bucket = CountingBucket(kv)
    store = ContactStore(bucket, known_records=2)  # type: ignore[arg-type]
    contacts = []
    for n in range(3):
        contact_id, _ = await store.open_contact(TENANT, f"cust-{n}")
        await store.change_contact(
            TENANT, contact_id, lambda current, c=contact_id: current or first_record(c)
        )
        contacts.append(contact_id)
    assert bucket.gets == 0
    # The two most recent are known; the oldest was forgotten, so changing it reads it first.
    for contact_id in reversed(contacts):
        await store.change_contact(TENANT, contact_id, with_language("en"))
    assert bucket.gets == 1


async def test_a_started_contact_is_known_started_without_a_read_and_others_are_read(kv: KeyValue) -> None:
    bucket = CountingBucket(kv)
    mine, other = ContactStore(bucket), ContactStore(kv)  # type: ignore[arg-type]
    contact_id, _ = await mine.open_contact(TENANT, "cust-1")
    await mine.change_contact(TENANT, contact_id, lambda current: current or first_record(contact_id))
    assert not await mine.started(TENANT, contact_id)  # not started: asked (another may have)
    assert bucket.gets == 1
    await other.change_contact(TENANT, contact_id, lambda current: replace(current, started=True))
    assert await mine.started(TENANT, contact_id)  # started elsewhere: read, then known
    await mine.change_contact(TENANT, contact_id, with_language("en"))
    assert await mine.started(TENANT, contact_id)
    assert bucket.gets == 2
