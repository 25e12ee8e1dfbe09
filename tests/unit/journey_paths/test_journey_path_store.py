"""Ended journeys in the analytics store: the row a JourneyEnded tells, stored once per event id
(a redelivery in the same batch, a later batch or after a restart adds nothing), expired by day,
and the journey report's counts per flow and version (hand-computed below)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ccmesh.envelope import new_event, timestamp_at
from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_journey_store import ParquetJourneyPathStore, journey_path_row
from integration.domain.analytics_journey_paths import JourneyPathRow
from integration.domain.analytics_query import ReportError
from integration.service_layer.analytics_journey_paths import JourneyPathsIngest, JourneyReports

DAY = 1_774_742_400.0  # 2026-03-29T00:00:00Z


def ended(
    journey: str,
    path: Sequence[str],
    outcome: str,
    *,
    at: float = DAY + 3600,
    flow: str = "triage",
    version: int = 1,
    tenant: str = "acme",
    brand: str = "b1",
    started: float = 0.0,
) -> events_pb2.Event:
    payload = events_pb2.JourneyEnded(
        flow=flow,
        version=version,
        alias="live",
        path=list(path),
        end_node=path[-1],
        outcome=outcome,
        queue="support" if outcome == "handed_off" else "",
        started_at=started,
        duration_seconds=at - started if started else 0.0,
    )
    return new_event(
        payload,
        tenant_id=tenant,
        brand_id=brand,
        region="eu",
        source="routing",
        contact_id=journey,
        event_id=f"end-{journey}",
        occurred_at=timestamp_at(at),
    )


def row(*args: Any, **kwargs: Any) -> JourneyPathRow:
    found = journey_path_row(ended(*args, **kwargs))
    assert found is not None
    return found


def test_the_row_of_a_journey_ended_event() -> None:
    found = row("c1", ["greet", "ask", "to-support"], "handed_off", started=DAY + 3000)
    assert found.nodes == ("greet", "ask", "to-support")
    assert (found.journey_id, found.tenant_id, found.brand_id, found.queue) == ("c1", "acme", "b1", "support")
    assert (found.ended_at, found.duration_seconds) == (DAY + 3600, 600.0)
    other = new_event(events_pb2.JourneyContinued(cause="timeout"), tenant_id="acme", region="eu", source="x")
    assert journey_path_row(other) is None


async def test_each_journey_is_stored_once_also_after_a_restart(tmp_path: Path) -> None:
    store = ParquetJourneyPathStore.open(tmp_path)
    first = row("c1", ["a", "b"], "completed")
    assert await store.add([first, first, row("c2", ["a"], "failed")]) == 2
    assert await store.add([first]) == 0
    reopened = ParquetJourneyPathStore.open(tmp_path)
    assert await reopened.add([first, row("c3", ["a"], "completed")]) == 1
    stored = await reopened.rows("acme", DAY, DAY + 86_400)
    assert sorted(r.journey_id for r in stored) == ["c1", "c2", "c3"]
    assert await reopened.rows("globex", DAY, DAY + 86_400) == []


async def test_days_past_retention_are_removed(tmp_path: Path) -> None:
    store = ParquetJourneyPathStore.open(tmp_path)
    await store.add([row("old", ["a"], "completed", at=DAY - 86_400), row("new", ["a"], "completed")])
    assert await store.expire_before("2026-03-29") == ["2026-03-28"]
    assert [r.journey_id for r in await store.rows("acme", DAY - 86_400, DAY + 86_400)] == ["new"]
    assert not (tmp_path / "journey_paths" / "date=2026-03-28").exists()


async def test_the_ingest_stores_journeys_and_hands_the_rest_on(tmp_path: Path) -> None:
    store = ParquetJourneyPathStore.open(tmp_path)
    handed: list[Any] = []

    async def then(items: Sequence[Any]) -> int:
        handed.extend(items)
        return len(items)

    ingest = JourneyPathsIngest(store, then)
    other = object()
    await ingest([row("c1", ["a"], "completed"), other])
    assert handed == [other]
    assert len(await store.rows("acme", DAY, DAY + 86_400)) == 1


async def test_the_report_counts_outcomes_paths_and_drop_off_per_flow_and_version(tmp_path: Path) -> None:
    store = ParquetJourneyPathStore.open(tmp_path)
    await store.add(
        [
            row("c1", ["greet", "ask", "to-support"], "handed_off", started=DAY + 3590),
            row("c2", ["greet", "ask", "to-support"], "handed_off", started=DAY + 3580),
            row("c3", ["greet", "ask", "to-support"], "handed_off"),
            row("c4", ["greet", "ask", "done"], "completed"),
            row("c5", ["greet", "ask"], "abandoned"),
            row("c6", ["greet", "ask"], "abandoned"),
            row("c7", ["greet"], "failed", version=2),
            row("c8", ["greet"], "completed", flow="sales"),
            row("c9", ["greet"], "completed", brand="b2"),
            row("late", ["greet"], "completed", at=DAY + 86_400),  # after the period
        ]
    )
    reports = JourneyReports(store)
    flows = await reports.report(tenant_id="acme", start="2026-03-29", end="2026-03-30", brands=["b1"])
    assert [(f.flow, f.version, f.journeys) for f in flows] == [
        ("sales", 1, 1),
        ("triage", 1, 6),
        ("triage", 2, 1),
    ]
    triage = flows[1]
    assert dict(triage.outcomes) == {"handed_off": 3, "completed": 1, "abandoned": 2}
    assert [(p.nodes, p.journeys) for p in triage.paths] == [
        (("greet", "ask", "to-support"), 3),
        (("greet", "ask"), 2),
        (("greet", "ask", "done"), 1),
    ]
    assert [(d.node, d.outcome, d.journeys) for d in triage.drop_offs] == [
        ("to-support", "handed_off", 3),
        ("ask", "abandoned", 2),
        ("done", "completed", 1),
    ]
    assert triage.average_duration_seconds == 15.0  # (10 + 20) / 2: only journeys with a known start
    assert flows[2].average_duration_seconds is None
    top = await reports.report(
        tenant_id="acme", start="2026-03-29", end="2026-03-30", flow="triage", top_paths=1
    )
    assert [f.version for f in top] == [1, 2] and len(top[0].paths) == 1 and top[0].journeys == 7
    everyone = await reports.report(tenant_id="acme", start="2026-03-29", end="2026-03-30", flow="triage")
    assert everyone[0].journeys == 7  # c9 of brand b2 too


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"start": ""}, "start: required"),
        ({"end": "2026-03-28"}, "end: must be after start"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: unknown time zone"),
        ({"top_paths": 5000}, "top_paths: must be between 0 and 1000"),
    ],
)
async def test_bad_parameters_are_named(tmp_path: Path, changes: dict[str, Any], named: str) -> None:
    reports = JourneyReports(ParquetJourneyPathStore.open(tmp_path))
    arguments: dict[str, Any] = {"tenant_id": "acme", "start": "2026-03-29", "end": "2026-03-30", **changes}
    with pytest.raises(ReportError, match=named):
        await reports.report(**arguments)
