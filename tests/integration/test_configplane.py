"""Config store and watcher against a real nats-server with JetStream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter, Model, Tenant
from ccmesh.configplane.store import ConfigStore, ConfigStoreError, ConflictError
from ccmesh.configplane.watch import ConfigWatcher

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Upper bound for waiting on the watcher; a generous limit, not a timing assertion.
WAIT_SECONDS = 10.0


def example(region: str) -> ContactCenter:
    (sourced,) = load_file(EXAMPLES / f"{region}.yaml")
    assert isinstance(sourced.document, ContactCenter)
    return sourced.document


def with_tenant(document: ContactCenter, tenant_id: str) -> ContactCenter:
    spec = document.spec.model_copy(update={"tenants": [*document.spec.tenants, Tenant(id=tenant_id)]})
    return document.model_copy(update={"spec": spec})


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        # Polling keeps the tests independent of the watcher's internals.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_apply_creates_then_reports_unchanged_then_bumps_generation_on_spec_change(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    eu = example("eu")

    created = await store.apply(eu)
    assert (created.generation, created.changed, created.created) == (1, True, True)

    again = await store.apply(eu)
    assert (again.generation, again.changed, again.revision) == (1, False, created.revision)

    changed = await store.apply(with_tenant(eu, "initech"))
    assert (changed.generation, changed.changed, changed.created) == (2, True, False)
    assert changed.revision > created.revision

    stored = await store.get("ContactCenter", "eu")
    assert isinstance(stored, ContactCenter)
    assert stored.metadata.generation == 2
    assert stored.metadata.resource_version == str(changed.revision)
    assert stored.metadata.creation_timestamp is not None
    assert stored.spec.tenant("initech") is not None


async def test_label_change_is_stored_without_a_new_generation(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    eu = example("eu")
    first = await store.apply(eu)
    relabelled = eu.model_copy(
        update={"metadata": eu.metadata.model_copy(update={"labels": {"team": "emea"}})}
    )
    result = await store.apply(relabelled)
    assert (result.changed, result.generation) == (True, first.generation)
    stored = await store.get("ContactCenter", "eu")
    assert stored is not None
    assert stored.metadata.labels == {"team": "emea"}  # type: ignore[attr-defined]


async def test_creation_timestamp_survives_updates(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    await store.apply(example("us"))
    before = await store.get("ContactCenter", "us")
    await store.apply(with_tenant(example("us"), "initech"))
    after = await store.get("ContactCenter", "us")
    assert before is not None and after is not None
    assert after.metadata.creation_timestamp == before.metadata.creation_timestamp  # type: ignore[attr-defined]


async def test_list_get_and_delete(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    assert await store.list("ContactCenter") == []
    for region in ("latam", "eu", "us"):
        await store.apply(example(region))
    listed = await store.list("ContactCenter")
    assert [doc.metadata.name for doc in listed] == ["eu", "latam", "us"]  # type: ignore[attr-defined]

    assert await store.delete("ContactCenter", "latam") is True
    assert await store.delete("ContactCenter", "latam") is False
    assert await store.get("ContactCenter", "latam") is None
    assert [doc.metadata.name for doc in await store.list("ContactCenter")] == ["eu", "us"]  # type: ignore[attr-defined]

    # A deleted document can be applied again and starts over at generation 1.
    recreated = await store.apply(example("latam"))
    assert (recreated.generation, recreated.created) == (1, True)


async def test_unknown_kind_is_refused_by_name(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    known = "known kinds: ChannelEndpoint, ContactCenter"
    with pytest.raises(ConfigStoreError, match=f"unknown kind 'CallCenter'; {known}"):
        await store.get("CallCenter", "eu")


async def test_resource_version_is_a_precondition(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    await store.apply(example("eu"))
    fetched = await store.get("ContactCenter", "eu")
    assert isinstance(fetched, ContactCenter)
    await store.apply(with_tenant(example("eu"), "someone-else"))

    stale_edit = with_tenant(fetched, "mine")
    with pytest.raises(
        ConflictError, match=f"was changed since resourceVersion {fetched.metadata.resource_version}"
    ):
        await store.apply(stale_edit)
    kept = await store.get("ContactCenter", "eu")
    assert isinstance(kept, ContactCenter)
    assert kept.spec.tenant("someone-else") is not None
    assert kept.spec.tenant("mine") is None

    fresh_edit = with_tenant(kept, "mine")
    result = await store.apply(fresh_edit)
    assert (result.changed, result.generation) == (True, 3)


async def test_concurrent_applies_of_different_specs_each_bump_the_generation(nc: NATS) -> None:
    store = await ConfigStore.open(nc.jetstream())
    await store.apply(example("eu"))
    edits = [with_tenant(example("eu"), f"tenant-{i}") for i in range(8)]
    await asyncio.gather(*(store.apply(edit) for edit in edits))
    stored = await store.get("ContactCenter", "eu")
    assert stored is not None
    # No apply was lost in a read-modify-write race: 1 create + 8 changes (each differs from the one before).
    assert stored.metadata.generation == 9  # type: ignore[attr-defined]


async def test_watcher_loads_existing_documents_and_follows_changes(nc: NATS) -> None:
    js = nc.jetstream()
    store = await ConfigStore.open(js)
    await store.apply(example("eu"))
    seen: list[tuple[str, str, int | None]] = []

    async def record(kind: str, name: str, document: Model | None) -> None:
        seen.append((kind, name, document.metadata.generation if document else None))  # type: ignore[attr-defined]

    watcher = await ConfigWatcher.open(js)
    watcher.on_change(record)
    async with watcher:
        loaded = watcher.current("ContactCenter", "eu")
        assert loaded is not None and loaded.metadata.generation == 1  # type: ignore[attr-defined]

        await store.apply(with_tenant(example("eu"), "initech"))
        await eventually(lambda: seen[-1] == ("ContactCenter", "eu", 2))
        current = watcher.current("ContactCenter", "eu")
        assert isinstance(current, ContactCenter)
        assert current.spec.tenant("initech") is not None

        await store.delete("ContactCenter", "eu")
        await eventually(lambda: watcher.current("ContactCenter", "eu") is None)
    assert seen == [("ContactCenter", "eu", 1), ("ContactCenter", "eu", 2), ("ContactCenter", "eu", None)]


async def test_invalid_stored_value_is_ignored_and_the_last_good_one_stays(
    nc: NATS, caplog: pytest.LogCaptureFixture
) -> None:
    js = nc.jetstream()
    store = await ConfigStore.open(js)
    good = await store.apply(example("eu"))
    async with ConfigWatcher(store.kv) as watcher:
        # Written past the store, as a hand edit or an older tool might; it carries a would-be secret.
        with caplog.at_level(logging.WARNING, logger="ccmesh.configplane.watch"):
            await store.kv.put(
                "ContactCenter.eu",
                b'{"apiVersion": "contactcenter.dev/v1alpha1", "kind": "ContactCenter",'
                b' "metadata": {"name": "eu"}, "spec": {"region": "eu", "apiKey": "s3cr3t"}}',
            )
            await eventually(lambda: "ignoring invalid ContactCenter/eu" in caplog.text)
        assert "spec.apiKey" in caplog.text
        assert "s3cr3t" not in caplog.text
        kept = watcher.current("ContactCenter", "eu")
        assert kept is not None
        assert kept.metadata.resource_version == str(good.revision)  # type: ignore[attr-defined]

        # A later valid apply repairs the stored document and the watcher takes it.
        repaired = await store.apply(with_tenant(example("eu"), "initech"))
        await eventually(
            lambda: (
                watcher.current("ContactCenter", "eu").metadata.resource_version  # type: ignore[union-attr]
                == str(repaired.revision)
            )
        )


async def test_region_helper_follows_the_contact_center_of_its_region(nc: NATS) -> None:
    js = nc.jetstream()
    store = await ConfigStore.open(js)
    await store.apply(example("eu"))
    await store.apply(example("us"))
    delivered: list[ContactCenter | None] = []

    async def apply_config(document: ContactCenter | None) -> None:
        delivered.append(document)

    watcher = await ConfigWatcher.open(js)
    watcher.on_region_change("us", apply_config)
    async with watcher:
        assert [doc.spec.region if doc else None for doc in delivered] == ["us"]
        us = watcher.contact_center_for_region("us")
        assert us is not None and us.metadata.name == "us"
        assert watcher.contact_center_for_region("mars") is None

        # A change elsewhere is not this region's business; a change here is delivered live.
        await store.apply(with_tenant(example("eu"), "initech"))
        await store.apply(with_tenant(example("us"), "initech"))
        await eventually(lambda: len(delivered) == 2)
        latest = delivered[-1]
        assert latest is not None and latest.metadata.generation == 2
        assert latest.spec.tenant("initech") is not None
