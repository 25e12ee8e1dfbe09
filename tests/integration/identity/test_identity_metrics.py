"""The identity metrics count resolutions, matches by rule, merges and cross-region lookups."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NATS
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ccmesh.kv import ensure_bucket
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.adapters.profile_store import ProfileStore
from identity.domain.identifiers import Identifier, IdentifierKind
from identity.domain.residency import IndexKeys
from identity.service_layer.merge import merge_customers
from identity.service_layer.metrics import IdentityMetrics
from identity.service_layer.resolve import RemoteAnswer, ResolveContext, resolve_customer


def points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, Any], ...]], int]:
    found: dict[tuple[str, tuple[tuple[str, Any], ...]], int] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found[(metric.name, tuple(sorted((point.attributes or {}).items())))] = int(point.value)
    return found


async def test_resolutions_matches_merges_and_cross_region_lookups_are_counted(nc: NATS) -> None:
    reader = InMemoryMetricReader()
    meters = IdentityMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    js = nc.jetstream()
    store = ProfileStore(await ensure_bucket(js, "identity-eu"))
    history = HistoryStore(js, await ensure_bucket(js, "identity-history-eu"), "identity-history-eu")
    keys = IndexKeys(b"k" * 32)
    global_index = GlobalIndex(await ensure_bucket(js, "identity-global-index"), keys)
    phone = Identifier(IdentifierKind.PHONE, "+4915123456789")
    email = Identifier(IdentifierKind.EMAIL, "m@example.org")
    homed_in_us = Identifier(IdentifierKind.PHONE, "+12025550123")
    await global_index.claim("acme", "acme", homed_in_us, "us")

    async def ask_home(region: str, _: list[Identifier]) -> RemoteAnswer:
        return RemoteAnswer(region, keys.reference("acme", region, "c-us"), None)

    ctx = ResolveContext(
        store=store,
        tenant_id="acme",
        scope="acme",
        region="eu",
        global_index=global_index,
        ask_home=ask_home,
        metrics=meters,
    )
    first = await resolve_customer(ctx, [phone])
    await resolve_customer(ctx, [phone])
    other = await resolve_customer(ctx, [email])
    remote = await resolve_customer(ctx, [homed_in_us])
    assert remote.remote is not None and remote.remote.home_region == "us" and remote.customer is None
    assert first.customer is not None and other.customer is not None
    await merge_customers(
        store,
        history,
        scope="acme",
        target_id=first.customer.customer_id,
        source_id=other.customer.customer_id,
        actor="t",
        reason="same",
        metrics=meters,
    )

    counted = points(reader)
    assert counted[("contactcenter.identity.resolutions", (("outcome", "created"),))] == 2
    assert counted[("contactcenter.identity.resolutions", (("outcome", "matched"),))] == 1
    assert counted[("contactcenter.identity.resolutions", (("outcome", "remote"),))] == 1
    assert counted[("contactcenter.identity.matches", (("rule", "exact:phone"),))] == 1
    assert counted[("contactcenter.identity.merges", (("action", "merge"),))] == 1
    lookups = (
        "contactcenter.identity.cross_region_lookups",
        (("crossed", "pseudonymous"), ("home_region", "us")),
    )
    assert counted[lookups] == 1
