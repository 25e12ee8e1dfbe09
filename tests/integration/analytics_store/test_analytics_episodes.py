"""Surge episodes in the analytics store, from a real event stream: a detector's alert and a
fallback policy's engagement (until its release) are kept once each with their times, also when
a second consumer reads the whole stream again, and survive a reopen; their days expire."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client as NATS

from ccmesh.envelope import new_event, timestamp_at
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_feed import AnalyticsFeed
from integration.adapters.analytics_store import ParquetAnalyticsStore
from integration.domain.analytics_episodes import EpisodeKind
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.analytics_day import as_stream_event, scripted_day
from tests.integration._mesh import REGION, eventually

ALERT_END = 1_774_750_500.0  # 2026-03-29T02:15:00Z


def surge_events() -> list[events_pb2.Event]:
    alert = events_pb2.SurgeDetected(
        queue="billing",
        channel=common_pb2.CHANNEL_KIND_WEBCHAT,
        metric="arrivals",
        value=42,
        baseline=12,
        score=6.5,
        direction=1,
        interval_seconds=900,
    )
    alert.interval_end.CopyFrom(timestamp_at(ALERT_END))
    released = events_pb2.FallbackReleased(
        policy="billing-storm",
        queue="billing",
        actions=["callback", "overflow:us/billing"],
        failed_actions=["journey:support/live->v2: no such alias"],
        reason="normal",
        engaged_at=timestamp_at(ALERT_END),
    )
    common = {"tenant_id": "acme", "region": REGION, "source": "routing"}
    return [
        new_event(alert, **common, contact_id="surge-billing", occurred_at=timestamp_at(ALERT_END)),
        new_event(
            released, **common, contact_id="surge-billing-storm", occurred_at=timestamp_at(ALERT_END + 1800)
        ),
    ]


async def consume(js, root: Path, durable: str, contacts: int) -> ParquetAnalyticsStore:
    store = ParquetAnalyticsStore.open(root)
    feed = AnalyticsFeed(js, REGION, AnalyticsIngest(store).ingest, durable=durable, batch=4)
    await feed.start()
    try:
        await eventually(lambda: len(store.facts()) >= contacts and len(store.episodes()) >= 2, timeout=15)
    finally:
        await feed.stop()
    return store


async def test_surge_episodes_are_kept_once(nc: NATS, tmp_path: Path):
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    day = scripted_day()
    publisher = EventPublisher(js, REGION)
    await publisher.publish_all([as_stream_event(e, REGION) for e in day[:10]])
    await publisher.publish_all(surge_events())
    await publisher.publish_all([as_stream_event(e, REGION) for e in day[10:]])
    contacts = len({e.contact_id for e in day})

    await consume(js, tmp_path, "analytics-a", contacts)
    store = await consume(js, tmp_path, "analytics-b", contacts)  # everything once more
    episodes = {episode.kind: episode for episode in store.episodes()}
    assert len(store.episodes()) == 2
    alert = episodes[EpisodeKind.ALERT]
    assert (alert.queue, alert.channel, alert.metric, alert.direction) == (
        "billing",
        "webchat",
        "arrivals",
        1,
    )
    assert (alert.started_at, alert.ended_at, alert.seconds) == (ALERT_END - 900, ALERT_END, 900)
    fallback = episodes[EpisodeKind.FALLBACK]
    assert (fallback.policy, fallback.reason, fallback.seconds) == ("billing-storm", "normal", 1800)
    assert fallback.actions == "callback,overflow:us/billing"
    assert fallback.failed_actions.startswith("journey:support/live->v2")

    reopened = ParquetAnalyticsStore.open(tmp_path)
    assert sorted(e.event_id for e in reopened.episodes()) == sorted(e.event_id for e in store.episodes())
    await reopened.add_episodes(store.episodes())  # known ids: nothing added
    assert len(reopened.episodes()) == 2
    assert await reopened.expire_before("2026-03-30") == ["2026-03-29"]
    assert reopened.episodes() == [] and not (tmp_path / "episodes" / "date=2026-03-29").exists()
