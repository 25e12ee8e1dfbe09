"""Batch re-analysis use case: slices, resume after a kill, nothing twice, bad parameters named."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from ai.domain.batch import BatchError, BatchJob, Reanalysis, Turn, batch_job, slice_size
from ai.service_layer.batch import ContactReanalysis
from ai.service_layer.batch_throttle import Throttle
from tests.unit.batch.batch_fakes import (
    FakeCheckpoints,
    FakeContacts,
    FakePermission,
    FakeSink,
    FakeTurns,
    fake_analyse,
)

IDS = [f"c{n:03d}" for n in range(23)]


def job(**overrides: Any) -> BatchJob:
    params: dict[str, Any] = {
        "tenant_id": "acme",
        "job_id": "j1",
        "start": "2026-12-01",
        "end": "2026-12-02",
        "time_zone": "UTC",
        "steps": [],
    }
    params.update(overrides)
    return batch_job(**params)


def use_case(
    checkpoints: FakeCheckpoints, sink: FakeSink, *, concurrency: int = 1, silent: set[str] | None = None
) -> ContactReanalysis:
    return ContactReanalysis(
        FakeTurns(silent),
        checkpoints,
        sink,
        fake_analyse,
        Throttle(1_000_000.0, concurrency),
        page_size=5,
    )


async def test_slices_walk_every_contact_once_and_report_progress() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    batch = use_case(checkpoints, sink, silent={"c004"})
    seen = []
    while True:
        progress = await batch.run(job(), 7, FakeContacts(IDS))
        seen.append((progress.processed, progress.processed_now, progress.done))
        if progress.done:
            break
    assert seen == [(7, 7, False), (14, 7, False), (21, 7, False), (23, 2, True)]
    assert [r.contact_id for r in sink.published] == IDS
    assert progress.total == 23 and progress.without_messages == 1
    again = await batch.run(job(), 7, FakeContacts(IDS))
    assert (again.processed, again.processed_now, again.done) == (23, 0, True)
    assert len(sink.published) == 23


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_a_job_killed_mid_slice_resumes_without_doubles(concurrency: int) -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    sink.block_after = 11
    killed = asyncio.create_task(
        use_case(checkpoints, sink, concurrency=concurrency).run(job(), 100, FakeContacts(IDS))
    )
    await sink.blocked.wait()
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    stopped_at = len(sink.published)
    assert 11 <= stopped_at < 23
    sink.block_after = None
    # A new process: a fresh use case, only the checkpoint store is shared.
    progress = await use_case(checkpoints, sink, concurrency=concurrency).run(job(), 100, FakeContacts(IDS))
    assert progress.done and progress.processed == 23
    assert sorted(r.contact_id for r in sink.published) == IDS
    assert Counter(r.contact_id for r in sink.published).most_common(1)[0][1] == 1


async def test_a_result_published_but_not_checkpointed_comes_again_under_the_same_event_id() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    checkpoints.fail_after = 4  # the job's first save, three contacts', then the fourth fails
    with pytest.raises(ConnectionError):
        await use_case(checkpoints, sink).run(job(), 100, FakeContacts(IDS))
    checkpoints.fail_after = None
    await use_case(checkpoints, sink).run(job(), 100, FakeContacts(IDS))
    doubled = [c for c, n in Counter(r.contact_id for r in sink.published).items() if n > 1]
    assert doubled == ["c003"]
    assert sorted(r.contact_id for r in sink.kept.values()) == IDS  # once each by event id


async def test_jobs_keep_their_own_progress_and_a_second_call_of_a_job_waits_for_the_first() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    batch = use_case(checkpoints, sink)
    await batch.run(job(job_id="first"), 3, FakeContacts(IDS))
    other = await batch.run(job(job_id="second"), 2, FakeContacts(IDS))
    assert other.processed == 2
    assert len({r.event_id for r in sink.published if r.contact_id == "c000"}) == 2
    sink.block_after = len(sink.published)
    running = asyncio.create_task(batch.run(job(job_id="first"), 3, FakeContacts(IDS)))
    await sink.blocked.wait()
    waiting = asyncio.create_task(batch.run(job(job_id="first"), 3, FakeContacts(IDS)))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # it does not run beside the first
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    sink.block_after = None
    progress = await waiting
    assert progress.processed == 6
    assert Counter(r.contact_id for r in sink.published if r.job_id == "first") == Counter(IDS[:6])


async def test_a_bad_period_is_refused_naming_it_and_starts_no_job() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    with pytest.raises(BatchError, match="start"):
        await use_case(checkpoints, sink).run(job(start="2026-12-03"), 5, FakeContacts(IDS))
    assert checkpoints.saved == {} and sink.published == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"tenant_id": ""}, "tenant_id"),
        ({"start": ""}, "start"),
        ({"end": ""}, "end"),
        ({"steps": ["reclassify", "translate"]}, "steps"),
        ({"job_id": "a.b*"}, "job_id"),
    ],
)
def test_bad_job_parameters_are_named(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(BatchError) as caught:
        job(**overrides)
    assert caught.value.field == named and str(caught.value).startswith(named)


def test_steps_keep_their_order_and_the_default_job_id_is_stable() -> None:
    chosen = job(job_id="", steps=["tag", "reclassify"])
    assert chosen.steps == ("reclassify", "tag")
    assert chosen.job_id == job(job_id="", steps=["reclassify", "tag"]).job_id
    assert chosen.job_id != job(job_id="", steps=["tag"]).job_id
    assert job().steps == ("reclassify", "summarise", "tag", "redact")


def test_slice_size_bounds() -> None:
    assert slice_size(0) == 100 and slice_size(7) == 7
    with pytest.raises(BatchError, match="max_contacts"):
        slice_size(10_001)


async def test_throttle_spaces_starts_and_refuses_bad_settings() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    throttle = Throttle(4.0, 2, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        async with throttle.slot():
            pass
    assert waits == [0.25, 0.25]
    with pytest.raises(ValueError, match="rate"):
        Throttle(0.0, 1)
    with pytest.raises(ValueError, match="concurrency"):
        Throttle(1.0, 0)


async def test_a_contact_the_compliance_rules_keep_from_analysis_is_done_without_a_result() -> None:
    checkpoints, sink, permission = FakeCheckpoints(), FakeSink(), FakePermission({"cust-c002", "cust-c010"})
    batch = ContactReanalysis(
        FakeTurns({"c005"}),
        checkpoints,
        sink,
        fake_analyse,
        Throttle(1e6, 2),
        permission=permission,
        page_size=5,
    )
    progress = await batch.run(job(), 100, FakeContacts(IDS))
    assert (
        progress.done
        and progress.processed == 23
        and progress.refused == 2
        and progress.without_messages == 1
    )
    assert sorted(r.contact_id for r in sink.published) == [c for c in IDS if c not in {"c002", "c010"}]
    assert ("acme", "brand-a", "cust-c002", "c002") in permission.asked
    assert not [a for a in permission.asked if a[3] == "c005"]  # no customer message: nothing to ask


async def test_a_page_that_changed_between_calls_skips_no_contact_it_now_holds() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    listed = FakeContacts(["a", "b", "d", "e", "f"])
    await use_case(checkpoints, sink).run(job(), 2, listed)  # a, b of the first page (a b d e f)
    listed.ids = ["a", "c", "d", "e", "f", "g"]  # b left the store (expired), c came late
    progress = await use_case(checkpoints, sink).run(job(), 100, listed)
    assert progress.done
    assert [r.contact_id for r in sink.published] == ["a", "b", "c", "d", "e", "f", "g"]


async def test_a_slice_starts_no_contact_after_its_time_budget_and_the_next_call_goes_on() -> None:
    checkpoints, sink = FakeCheckpoints(), FakeSink()
    now = [0.0]

    async def slow_analyse(job: BatchJob, contact_id: str, turns: list[Turn]) -> Reanalysis:
        now[0] += 1.0  # each contact takes a second
        return await fake_analyse(job, contact_id, turns)

    batch = ContactReanalysis(
        FakeTurns(), checkpoints, sink, slow_analyse, Throttle(1e6, 1), page_size=5, clock=lambda: now[0]
    )
    first = await batch.run(job(), 100, FakeContacts(IDS), budget_seconds=3.5)
    assert (first.processed, first.processed_now, first.done) == (4, 4, False)
    rest = await batch.run(job(), 100, FakeContacts(IDS))
    assert rest.done and rest.processed == 23
    assert [r.contact_id for r in sink.published] == IDS
