"""Agents' state events become intervals cut at quarter hours, once each, and by-agent reports
gain occupancy and staffed time. The day is 2026-03-29 in Berlin: at 01:00 UTC the clocks jump
from 02:00 (+01:00) to 03:00 (+02:00), so the local hour 02:00 does not exist and the day lasts
23 hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integration.adapters.analytics_agent_store import ParquetAgentStateStore
from integration.domain.analytics_agent_states import AgentInterval, AgentStateEvent, AgentStays, pieces
from integration.domain.analytics_facts import ContactFact
from integration.service_layer.analytics_agent_states import AgentStateReport, AgentStatesIngest
from integration.service_layer.analytics_reports import Reports
from tests.unit.analytics.analytics_fakes import MemoryAnalyticsStore


def utc(hh: int, mm: int) -> float:
    return datetime(2026, 3, 29, hh, mm, tzinfo=UTC).timestamp()


def event(n: int, agent: str, previous: str, state: str, at: float, tenant: str = "acme") -> AgentStateEvent:
    return AgentStateEvent(f"e{n}", tenant, agent, previous, state, "set_by_agent", at)


#: a1: available 00:50-01:05, busy 01:05-01:20 (across the clock change and a quarter hour),
#: available 01:20-01:30, then offline. a2: available 00:00-00:10, on a break 00:10-00:40.
#: Another tenant's agent is never counted.
DAY = [
    event(1, "a2", "offline", "available", utc(0, 0)),
    event(2, "a2", "available", "break", utc(0, 10)),
    event(3, "a2", "break", "offline", utc(0, 40)),
    event(4, "a1", "offline", "available", utc(0, 50)),
    event(5, "a1", "available", "busy", utc(1, 5)),
    event(6, "a1", "busy", "available", utc(1, 20)),
    event(7, "a1", "available", "offline", utc(1, 30)),
    event(8, "x9", "offline", "available", utc(0, 0), tenant="other"),
    event(9, "x9", "available", "offline", utc(1, 0), tenant="other"),
]


def spans(intervals: list[AgentInterval], agent: str) -> list[tuple[str, str, str]]:
    def hm(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%H:%M")

    return [(i.state, hm(i.start), hm(i.end)) for i in intervals if i.agent_id == agent]


def test_stays_are_cut_at_quarter_hours_and_offline_is_not_kept():
    intervals = AgentStays().apply(DAY)
    assert spans(intervals, "a1") == [
        ("available", "00:50", "01:00"),
        ("available", "01:00", "01:05"),
        ("busy", "01:05", "01:15"),
        ("busy", "01:15", "01:20"),
        ("available", "01:20", "01:30"),
    ]
    assert spans(intervals, "a2") == [
        ("available", "00:00", "00:10"),
        ("break", "00:10", "00:15"),
        ("break", "00:15", "00:30"),
        ("break", "00:30", "00:40"),
    ]
    assert list(pieces(utc(0, 15), utc(0, 15))) == []


def test_a_replay_or_a_redelivered_batch_adds_no_interval_twice():
    stays = AgentStays()
    first = stays.apply(DAY[:5])
    # The batch comes again with the rest (a consumer restart before the ack), then the whole
    # stream from its start (a replay): only the new events' stays are added.
    again = stays.apply(DAY[3:])
    replay = stays.apply(DAY)
    assert replay == []
    everything = AgentStays().apply(DAY)
    assert sorted(first + again, key=lambda i: (i.agent_id, i.start)) == sorted(
        everything, key=lambda i: (i.agent_id, i.start)
    )
    keys = [(i.event_id, i.piece) for i in first + again]
    assert len(keys) == len(set(keys))


class MemoryAgentStates:
    def __init__(self) -> None:
        self.rows: list[AgentInterval] = []
        self._stays = AgentStays()
        self.fail_next_commit = False

    def stays(self) -> AgentStays:
        return self._stays.copy()

    async def commit(self, intervals, stays) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise OSError("No space left on device")
        self.rows += intervals
        self._stays = stays.copy()

    async def intervals(self, tenant_id, start, end):
        return [r for r in self.rows if r.tenant_id == tenant_id and r.start < end and r.end > start]


async def contacts_ingest(items) -> int:
    return len(items)


async def test_a_failed_commit_forgets_the_batch_and_its_redelivery_is_folded_once():
    store = MemoryAgentStates()
    ingest = AgentStatesIngest(store, contacts_ingest)
    await ingest(DAY[:4])
    store.fail_next_commit = True
    with pytest.raises(OSError, match="No space"):
        await ingest(DAY[4:])
    assert await ingest([*DAY[4:], "a contact event"]) == 1  # the others go on to the contacts
    assert sorted(store.rows, key=lambda i: (i.agent_id, i.start)) == sorted(
        AgentStays().apply(DAY), key=lambda i: (i.agent_id, i.start)
    )


def answered_by(agent: str, at: float) -> ContactFact:
    return ContactFact(
        f"c-{agent}", "acme", "", "webchat", "", "billing", "billing", agent, "en", "", 0.0, 0, "completed",
        at - 30, at - 30, at, at + 600, 30.0, 600.0, 0.0, 0.0, 0, True, False,
    )  # fmt: skip


async def reports(now: float = utc(12, 0), more: tuple[AgentStateEvent, ...] = ()) -> Reports:
    states = MemoryAgentStates()
    ingest = AgentStatesIngest(states, contacts_ingest)
    await ingest([*DAY, *more])
    contacts = MemoryAnalyticsStore()
    contacts.facts.append(answered_by("a1", utc(1, 5)))
    return Reports(contacts, None, AgentStateReport(states, ingest.open_stays, clock=lambda: now))


def by_agent(rows) -> dict[tuple[str, str], tuple[int, float | None, float | None]]:
    return {(r.start, r.group): (r.answered, r.occupancy, r.staffed_seconds) for r in rows}


async def test_hourly_occupancy_and_staffed_time_by_agent_across_the_clock_change():
    rows = await (await reports()).report(
        tenant_id="acme",
        start="2026-03-29",
        end="2026-03-30",
        interval="hour",
        group_by="agent",
        time_zone="Europe/Berlin",
    )
    assert by_agent(rows) == {
        # 01:00-02:00 (+01:00) is 00:00-01:00 UTC. a2: available 600 s, break 1,800 s (staffed,
        # outside occupancy) -> occupancy 0 / 600 = 0. a1: available 600 s -> 0 / 600.
        ("2026-03-29T01:00:00+01:00", "a1"): (0, 0.0, 600.0),
        ("2026-03-29T01:00:00+01:00", "a2"): (0, 0.0, 2400.0),
        # 03:00-04:00 (+02:00) is 01:00-02:00 UTC: available 300 + 600 s, busy 900 s -> 0.5; the
        # contact a1 answered at 01:05 UTC counts here too.
        ("2026-03-29T03:00:00+02:00", "a1"): (1, 0.5, 1800.0),
    }
    assert [r.start for r in rows] == sorted((r.start for r in rows), key=datetime.fromisoformat)


async def test_quarter_hours_and_the_23_hour_day():
    quarter = await (await reports()).report(
        tenant_id="acme",
        start="2026-03-29T01:45",
        end="2026-03-29T03:30",
        interval="15m",
        group_by="agent",
        time_zone="Europe/Berlin",
    )
    assert {k: v[1:] for k, v in by_agent(quarter).items() if k[1] == "a1"} == {
        ("2026-03-29T01:45:00+01:00", "a1"): (0.0, 600.0),
        # available 01:00-01:05, busy 01:05-01:15 UTC: 600 / 900
        ("2026-03-29T03:00:00+02:00", "a1"): (pytest.approx(2 / 3), 900.0),
        # busy 01:15-01:20, available 01:20-01:30 UTC: 300 / 900
        ("2026-03-29T03:15:00+02:00", "a1"): (pytest.approx(1 / 3), 900.0),
    }
    day = await (await reports()).report(
        tenant_id="acme", start="2026-03-29", end="2026-03-30", interval="day", group_by="agent",
        time_zone="Europe/Berlin",
    )  # fmt: skip
    assert by_agent(day) == {
        ("2026-03-29T00:00:00+01:00", "a1"): (1, 900 / 2400, 2400.0),
        ("2026-03-29T00:00:00+01:00", "a2"): (0, 0.0, 2400.0),
    }
    assert day[0].end == "2026-03-30T00:00:00+02:00"


async def test_an_agent_still_on_counts_up_to_now_and_other_groupings_are_unchanged():
    # a3 became available at 00:30 and still is at 01:00 (now).
    reports_ = await reports(now=utc(1, 0), more=(event(10, "a3", "offline", "available", utc(0, 30)),))
    rows = await reports_.report(
        tenant_id="acme", start="2026-03-29", end="2026-03-30", interval="day", group_by="agent"
    )
    assert by_agent(rows)[("2026-03-29T00:00:00+00:00", "a3")] == (0, 0.0, 1800.0)
    by_queue = await reports_.report(
        tenant_id="acme", start="2026-03-29", end="2026-03-30", interval="day", group_by="queue"
    )
    assert [(r.group, r.occupancy, r.staffed_seconds) for r in by_queue] == [("billing", None, None)]


async def test_the_parquet_store_keeps_intervals_and_open_stays_across_a_reopen(tmp_path):
    store = ParquetAgentStateStore.open(tmp_path)
    ingest = AgentStatesIngest(store, contacts_ingest)
    await ingest(DAY[:5])
    await ingest(DAY[5:])
    reopened = ParquetAgentStateStore.open(tmp_path)
    # A replay into the reopened store adds nothing: its open stays say what is folded.
    await AgentStatesIngest(reopened, contacts_ingest)(DAY)
    kept = await reopened.intervals("acme", utc(0, 0), utc(2, 0))
    assert sorted(kept, key=lambda i: (i.agent_id, i.start)) == sorted(
        (i for i in AgentStays().apply(DAY) if i.tenant_id == "acme"), key=lambda i: (i.agent_id, i.start)
    )
    assert await reopened.intervals("acme", utc(1, 30), utc(2, 0)) == []
    assert {s.agent_id: s.state for s in reopened.stays().open_stays()} == {
        "a1": "offline",
        "a2": "offline",
        "x9": "offline",
    }
    assert reopened.expire_days_before("2026-03-30") == ["2026-03-29"]
    assert await reopened.intervals("acme", utc(0, 0), utc(2, 0)) == []
