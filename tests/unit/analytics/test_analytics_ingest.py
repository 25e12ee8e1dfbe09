"""Folding batches into the store: committed with the ledger; a failed commit forgets its batch,
so the redelivered batch is applied afresh, once."""

from __future__ import annotations

import pytest

from integration.domain.analytics_facts import ContactLedger, Step
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.analytics_day import event, scripted_day

from .analytics_fakes import MemoryAnalyticsStore


def by_contact(facts):
    return sorted(facts, key=lambda f: f.contact_id)


async def test_batches_commit_their_finished_contacts():
    day = scripted_day()
    store = MemoryAnalyticsStore()
    ingest = AnalyticsIngest(store)
    for start in range(0, len(day), 5):
        await ingest.ingest(day[start : start + 5])
    assert by_contact(store.facts) == by_contact(ContactLedger().apply(day))


async def test_a_failed_commit_forgets_the_batch_and_its_redelivery_counts_once():
    day = scripted_day()
    store = MemoryAnalyticsStore()
    ingest = AnalyticsIngest(store)
    await ingest.ingest(day[:10])
    store.fail_next_commit = True
    with pytest.raises(OSError, match="No space"):
        await ingest.ingest(day[10:20])
    # The consumer redelivers the failed batch; a fresh use case (a restart) reads the store.
    await ingest.ingest(day[10:20])
    await AnalyticsIngest(store).ingest(day[20:])
    assert by_contact(store.facts) == by_contact(ContactLedger().apply(day))


async def test_a_contact_nobody_closed_is_stored_once_idle_for_a_day():
    store = MemoryAnalyticsStore()
    ingest = AnalyticsIngest(store, idle_contact_seconds=3600)
    await ingest.ingest([event("bot", Step.CREATED, "2026-03-29T10:00:00+02:00", channel="webchat")])
    assert store.facts == []
    await ingest.ingest([event("later", Step.CREATED, "2026-03-29T11:00:01+02:00", channel="webchat")])
    (idle,) = store.facts
    assert (idle.contact_id, idle.offered, idle.outcome) == ("bot", False, "unclosed")
