"""Every KV-watch-based store keeps following its bucket across a nats-server restart.

The server is stopped and started again on the same port and store directory (as a crashed
or upgraded single node comes back); an update written after the restart must reach each
store's watch. A lost consumer without any reconnect (removed on the server) is noticed too.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _platform import eu_contact_center, eventually
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh.configplane.loader import metadata_of
from ccmesh.configplane.store import ConfigStore
from ccmesh.configplane.watch import ConfigWatcher
from ccmesh.kv import ensure_bucket
from ccmesh.kv_watch import KeyWatch, current_entries
from ccmesh.testing.topologies import Topology
from recovery._restart import WAIT_SECONDS, client, restart, write_when_back
from routing.adapters import acd_codec
from routing.adapters.acd_store import KeyMirror
from routing.adapters.flow_store import DeadlineStore
from routing.domain.queueing import QueueSpec
from routing.domain.wait_deadlines import WaitDeadline

__all__ = ["client"]


async def test_the_routing_mirror_sees_an_update_made_after_a_restart(
    nats_server: Topology, client: NATS
) -> None:
    kv = await ensure_bucket(client.jetstream(), "acd-test")
    await kv.put("queue.acme.before", acd_codec.queue_to_bytes(QueueSpec(tenant="acme", name="before")))
    mirror = KeyMirror(kv)
    await mirror.start()
    try:
        assert ("acme", "before") in mirror.queues

        await restart(nats_server, client)
        queue = acd_codec.queue_to_bytes(QueueSpec(tenant="acme", name="after"))
        await write_when_back(lambda: kv.put("queue.acme.after", queue))

        async def seen() -> bool:
            return ("acme", "after") in mirror.queues

        await eventually(seen, seconds=WAIT_SECONDS)
    finally:
        await mirror.stop()


async def test_journey_deadlines_follow_a_wait_set_after_a_restart(
    nats_server: Topology, client: NATS
) -> None:
    store = DeadlineStore(await ensure_bucket(client.jetstream(), "journeys-test"))
    armed: list[WaitDeadline] = []
    await store.follow(armed.append, lambda _tenant, _journey: None)
    try:
        await restart(nats_server, client)
        deadline = WaitDeadline(due_at=time.time() + 60, tenant="acme", journey_id="j1", node="wait", step=1)
        await write_when_back(lambda: store.put(deadline))

        async def armed_once() -> bool:
            return deadline in armed

        await eventually(armed_once, seconds=WAIT_SECONDS)
    finally:
        await store.stop()


async def test_the_config_watcher_sees_a_document_applied_after_a_restart(
    nats_server: Topology, client: NATS
) -> None:
    js = client.jetstream()
    watcher = await ConfigWatcher.open(js)
    await watcher.start()
    try:
        await restart(nats_server, client)
        store = await ConfigStore.open(js)
        await write_when_back(lambda: store.apply(eu_contact_center()))

        async def applied() -> bool:
            return bool(watcher.documents("ContactCenter"))

        await eventually(applied, seconds=WAIT_SECONDS)
        # The one-shot listing of the same store reads it too.
        assert [metadata_of(doc).name for doc in await store.list("ContactCenter")] == ["eu"]
    finally:
        await watcher.stop()


async def test_the_ai_artifact_watch_sees_an_artifact_stored_after_a_restart(
    nats_server: Topology, client: NATS
) -> None:
    from ai.adapters.tenant_store import TenantStore

    store = TenantStore(await ensure_bucket(client.jetstream(), "ai-test"))
    received: list[tuple[str, Any, int]] = []

    async def on_artifact(tenant: str, value: Any, revision: int) -> None:
        received.append((tenant, value, revision))

    await store.watch("intents", on_artifact)
    try:
        await restart(nats_server, client)
        await write_when_back(lambda: store.put_artifact("intents", "acme", {"model": 2}))

        async def delivered() -> bool:
            return any(tenant == "acme" and value == {"model": 2} for tenant, value, _ in received)

        await eventually(delivered, seconds=WAIT_SECONDS)
    finally:
        await store.stop()


async def test_a_watch_resumes_after_its_last_revision_without_gaps_or_repeats(
    nats_server: Topology, client: NATS
) -> None:
    kv = await ensure_bucket(client.jetstream(), "watch-test", history=1)
    await kv.put("k.a", b"1")
    watch = await KeyWatch.start(kv, "k.*")
    revisions: list[int] = []
    values: dict[str, bytes] = {}

    async def follow() -> None:
        async for entry in watch:
            if entry is not None:
                revisions.append(entry.revision or 0)
                values[entry.key] = entry.value or b""

    following = asyncio.create_task(follow())
    try:
        await kv.put("k.b", b"2")
        await restart(nats_server, client)
        await write_when_back(lambda: kv.put("k.a", b"3"))
        await kv.put("k.c", b"4")

        async def caught_up() -> bool:
            return values == {"k.a": b"3", "k.b": b"2", "k.c": b"4"}

        await eventually(caught_up, seconds=WAIT_SECONDS)
        assert revisions == sorted(set(revisions)), f"revisions repeated or out of order: {revisions}"
        assert watch.restarts >= 1
    finally:
        await watch.stop()
        following.cancel()


async def test_a_consumer_removed_on_the_server_is_replaced_without_a_reconnect(client: NATS) -> None:
    kv = await ensure_bucket(client.jetstream(), "watch-test", history=1)
    watch = await KeyWatch.start(kv, "k.*")
    try:
        assert await watch.updates(timeout=WAIT_SECONDS) is None  # empty bucket: loaded at once
        jsm = client.jetstream()
        for consumer in await jsm.consumers_info("KV_watch-test"):
            await jsm.delete_consumer("KV_watch-test", consumer.name)
        await kv.put("k.a", b"after")

        entry = await watch.updates(timeout=WAIT_SECONDS)
        assert entry is not None
        assert (entry.key, entry.value) == ("k.a", b"after")
        assert client.stats["reconnects"] == 0
        assert watch.restarts == 1
    finally:
        await watch.stop()


async def test_a_listing_reads_every_value_and_an_empty_pattern_as_empty(client: NATS) -> None:
    kv: KeyValue = await ensure_bucket(client.jetstream(), "list-test", history=3)
    assert await current_entries(kv, "dlq.acme.*") == []
    for index in range(50):
        await kv.put(f"dlq.acme.e{index}", str(index).encode())
    await kv.put("dlq.acme.e7", b"seven")
    await kv.delete("dlq.acme.e8")
    await kv.put("other.acme.x", b"x")

    listed = {entry.key: entry.value for entry in await current_entries(kv, "dlq.acme.*")}

    expected = {f"dlq.acme.e{index}": str(index).encode() for index in range(50) if index != 8}
    expected["dlq.acme.e7"] = b"seven"
    assert listed == expected
