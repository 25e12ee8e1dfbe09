"""The analytics store's retention: whole days of arrival leave once all of them is older than the
period; the day at the edge stays; a bad period is refused with its name."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from integration.domain.analytics_facts import ContactLedger
from integration.service_layer.analytics_retention import AnalyticsRetention, first_kept_day
from tests.analytics_day import scripted_day
from tests.unit.analytics.analytics_fakes import MemoryAnalyticsStore

DAY_SECONDS = 86_400


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_the_first_kept_day_is_the_one_holding_the_period_start():
    assert first_kept_day(instant("2026-04-10T12:00:00+00:00"), 10) == "2026-03-31"
    assert first_kept_day(instant("2026-04-10T00:00:00+00:00"), 1) == "2026-04-09"


async def test_days_past_the_period_are_removed_and_the_rest_kept():
    store = MemoryAnalyticsStore()
    facts = ContactLedger().apply(scripted_day())  # all arrived on 2026-03-29 (UTC)
    week_later = [
        replace(
            f,
            contact_id=f.contact_id + "w",
            queued_at=f.queued_at and f.queued_at + 7 * DAY_SECONDS,
            created_at=f.created_at + 7 * DAY_SECONDS,
        )
        for f in facts
    ]
    await store.commit([*facts, *week_later], ContactLedger())
    now = instant("2026-04-10T08:00:00+00:00")
    # 12 days kept: 2026-03-29 is still inside (its last instant is under 12 days old).
    assert await AnalyticsRetention(store, 12, clock=lambda: now).expire() == []
    assert await AnalyticsRetention(store, 10, clock=lambda: now).expire() == ["2026-03-29"]
    assert sorted(f.contact_id for f in store.facts) == sorted(f.contact_id for f in week_later)


def test_a_period_under_a_day_is_refused():
    with pytest.raises(ValueError, match="analytics retention: at least 1 day"):
        AnalyticsRetention(MemoryAnalyticsStore(), 0)


async def test_each_sweep_expires_then_runs_the_rest_of_the_upkeep():
    store = MemoryAnalyticsStore()
    done: list[str] = []

    async def warm() -> None:
        done.append(f"warm after {len(store.facts)} contacts")

    await store.commit(ContactLedger().apply(scripted_day()), ContactLedger())
    now = instant("2026-04-10T08:00:00+00:00")
    await AnalyticsRetention(store, 10, clock=lambda: now, then=warm).sweep()
    assert done == ["warm after 0 contacts"]
