"""Agents' desks on a real KV bucket: holding and releasing start from the desk as this instance
last read or wrote it instead of reading it again, and never lose another instance's change."""

from __future__ import annotations

import pytest
from _mesh import CountingBucket
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh.kv import ensure_bucket
from contactcenter.common.v1 import common_pb2
from gateway.adapters.workspace_store import HeldContact, WorkspaceStore

TENANT = "acme"
SMS = common_pb2.CHANNEL_KIND_SMS


@pytest.fixture
async def kv(nc: NATS) -> KeyValue:
    return await ensure_bucket(nc.jetstream(), "gateway-desks-test")


def held(contact_id: str) -> HeldContact:
    return HeldContact(contact_id, f"r-{contact_id}", "support", SMS, "cust-1", "acme-retail")


async def test_holding_and_releasing_read_the_desk_once(kv: KeyValue) -> None:
    bucket = CountingBucket(kv)
    store = WorkspaceStore(bucket)  # type: ignore[arg-type]
    await store.hold(TENANT, "agent-1", held("c1"))  # the first change reads: nothing there yet
    await store.hold(TENANT, "agent-1", held("c2"))
    await store.release(TENANT, "agent-1", "c1")
    assert bucket.gets == 1
    assert await WorkspaceStore(kv).desk(TENANT, "agent-1") == {"c2": held("c2")}


async def test_a_desk_changed_by_another_instance_meanwhile_keeps_that_change(kv: KeyValue) -> None:
    mine, other = WorkspaceStore(kv), WorkspaceStore(kv)
    await mine.hold(TENANT, "agent-1", held("c1"))
    await other.hold(TENANT, "agent-1", held("c2"))
    # `mine` remembers the desk before the other's hold: its write is refused, it reads the desk
    # and applies its change on top.
    await mine.release(TENANT, "agent-1", "c1")
    assert await other.desk(TENANT, "agent-1") == {"c2": held("c2")}
    await other.release(TENANT, "agent-1", "c2")
    await mine.hold(TENANT, "agent-1", held("c3"))
    assert await WorkspaceStore(kv).desk(TENANT, "agent-1") == {"c3": held("c3")}


async def test_a_desk_handed_out_is_a_copy(kv: KeyValue) -> None:
    store = WorkspaceStore(kv)
    await store.hold(TENANT, "agent-1", held("c1"))
    desk = await store.desk(TENANT, "agent-1")
    desk.pop("c1")  # what a caller does with its desk does not change what the store knows
    await store.hold(TENANT, "agent-1", held("c2"))
    assert await WorkspaceStore(kv).desk(TENANT, "agent-1") == {"c1": held("c1"), "c2": held("c2")}
