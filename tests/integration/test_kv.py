"""KV helpers against a real nats-server: no lost updates, clear errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from ccmesh.kv import KVError, UpdateConflictError, ensure_bucket, get_json, put_json, update_with
from ccmesh.testing.topologies import three_node_cluster


def increment(old: bytes | None) -> bytes:
    return str(int(old or b"0") + 1).encode()


async def test_twenty_concurrent_incrementers_on_two_connections_lose_nothing(
    nc: NATS, nats_url: str
) -> None:
    other = await nats.connect(nats_url)
    try:
        kv_one = await ensure_bucket(nc.jetstream(), "counters")
        kv_two = await ensure_bucket(other.jetstream(), "counters")
        writers = [update_with(kv_one if i % 2 else kv_two, "calls", increment) for i in range(20)]
        revisions = await asyncio.gather(*writers)
        entry = await kv_one.get("calls")
        assert entry.value == b"20"
        # Every writer wrote exactly once, each at its own revision.
        assert len(set(revisions)) == 20
    finally:
        await other.drain()


async def test_ensure_bucket_returns_the_existing_bucket_with_its_data(nc: NATS) -> None:
    js = nc.jetstream()
    first = await ensure_bucket(js, "cfg", history=3)
    await first.put("k", b"v")
    again = await ensure_bucket(js, "cfg", history=3)
    assert (await again.get("k")).value == b"v"
    assert (await again.status()).history == 3


async def test_unchanged_value_is_not_written(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), "cfg")
    written = await update_with(kv, "k", lambda _: b"v")
    unchanged = await update_with(kv, "k", lambda old: old)
    assert unchanged == written
    assert (await kv.status()).values == 1


async def test_none_deletes_and_the_key_can_be_created_again(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), "cfg")
    await update_with(kv, "k", lambda _: b"1")
    assert await update_with(kv, "k", lambda _: None) == 0
    assert await get_json(kv, "k") is None
    revision = await update_with(kv, "k", increment)
    assert (await kv.get("k")).value == b"1"
    assert revision > 0


async def test_gives_up_with_a_clear_error_when_the_key_keeps_changing(nc: NATS, nats_url: str) -> None:
    kv = await ensure_bucket(nc.jetstream(), "cfg")
    await kv.put("k", b"0")
    interruptions: list[bytes] = []

    def mutate_while_someone_else_writes(old: bytes | None) -> bytes:
        # Between this caller's read and its write, another client changes the key: every time.
        interruptions.append(old or b"")
        _put_from_another_client(nats_url, "cfg", "k", b"theirs-%d" % len(interruptions))
        return b"mine"

    with pytest.raises(UpdateConflictError, match="key 'k' kept changing: gave up after 3 attempts"):
        await update_with(kv, "k", mutate_while_someone_else_writes, retries=2)
    assert len(interruptions) == 3
    # Nothing of this caller was written; the other client's last write stands.
    assert (await kv.get("k")).value == b"theirs-3"


def _put_from_another_client(url: str, bucket: str, key: str, value: bytes) -> None:
    """A blocking write on its own connection and event loop, so it lands before this returns."""

    async def put() -> None:
        client = await nats.connect(url)
        try:
            await (await client.jetstream().key_value(bucket)).put(key, value)
        finally:
            await client.close()

    thread = threading.Thread(target=asyncio.run, args=(put(),))
    thread.start()
    thread.join()


async def test_json_round_trip(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), "cfg")
    revision = await put_json(kv, "doc", {"region": "eu", "tenants": ["acme"]})
    assert await get_json(kv, "doc") == ({"region": "eu", "tenants": ["acme"]}, revision)


async def test_placement_tags_keep_the_bucket_on_matching_servers(tmp_path: Path) -> None:
    # Placement is only enforced in a JetStream cluster; a lone server ignores it.
    topology = three_node_cluster(tmp_path / "nats", tags=["region:eu"])
    client = await nats.connect(topology.urls[0])
    try:
        js = client.jetstream()
        kv = await ensure_bucket(js, "eu-data", placement_tags=["region:eu"])
        await kv.put("k", b"v")
        info = await js.stream_info("KV_eu-data")
        assert info.config.placement is not None
        assert info.config.placement.tags == ["region:eu"]
        with pytest.raises(KVError, match=r"bucket 'us-data' .* tagged \['region:us'\]: no suitable servers"):
            await ensure_bucket(js, "us-data", placement_tags=["region:us"])
    finally:
        await client.drain()
        topology.stop_all()
