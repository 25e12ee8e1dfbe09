"""The standard metrics of a scripted day, computed by hand (see `analytics_day`)."""

from __future__ import annotations

import pytest

from integration.domain.analytics_facts import ContactLedger, Step
from integration.domain.analytics_metrics import QueueTarget, report_rows, totals_by
from integration.domain.analytics_query import ReportError, parse_report_query
from tests.analytics_day import at, event, scripted_day


def facts():
    ledger = ContactLedger()
    return ledger.apply(scripted_day())


def report(interval: str, group_by: str = "", start="2026-03-29", end="2026-03-30", **more):
    query = parse_report_query(
        tenant_id="acme",
        start=start,
        end=end,
        interval=interval,
        group_by=group_by,
        time_zone="Europe/Berlin",
        **more,
    )
    return report_rows(query, totals_by(facts(), query))


def test_the_folded_facts_carry_the_scripted_timings():
    by_id = {f.contact_id: f for f in facts()}
    assert sorted(by_id) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    c2, c3, c4 = by_id["c2"], by_id["c3"], by_id["c4"]
    assert (c2.wait_seconds, c2.handle_seconds, c2.acw_seconds) == (30, 300, 60)
    assert c3.abandoned and c3.outcome == "abandoned" and c3.abandon_seconds == 90
    assert (c4.wait_seconds, c4.handle_seconds, c4.acw_seconds, c4.transfers) == (25, 635, 60, 1)
    assert (c4.queue, c4.final_queue, c4.agent) == ("billing", "sales", "bob")
    assert not by_id["c5"].offered
    assert by_id["c6"].acw_seconds == 300  # voice: no messages, the whole handle is after the answer


def test_hourly_intervals_across_the_spring_clock_change():
    rows = report("hour")
    assert [(r.start, r.end) for r in rows] == [
        ("2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),
        ("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
        ("2026-03-29T23:00:00+02:00", "2026-03-30T00:00:00+02:00"),
    ]
    first, second, last = rows
    # c1 and c2: c2 waited across the boundary and the clock change, it counts where it arrived.
    assert (first.offered, first.answered, first.abandoned) == (2, 2, 0)
    assert first.service_level == 0.5  # c1 in 15 s, c2 in 30 s
    assert first.average_speed_of_answer == 22.5
    assert first.average_handle_time == (345 + 300) / 2
    assert first.average_after_contact_work == 60
    assert first.sentiment == 0.0  # +0.5 and -0.5
    # c3 abandoned, c4 answered in 25 s and transferred; c5 was never queued.
    assert (second.offered, second.answered, second.abandoned, second.transfers) == (2, 1, 1, 1)
    assert second.service_level == 0.0
    assert second.abandon_rate == 0.5
    assert second.average_abandon_wait == 90
    assert second.average_speed_of_answer == 25
    assert second.average_handle_time == 635
    assert second.sentiment is None
    # c6 answered in exactly the threshold, after midnight: counted in the day it arrived.
    assert (last.offered, last.answered, last.service_level, last.average_speed_of_answer) == (1, 1, 1.0, 20)


def test_the_day_of_the_clock_change_lasts_23_hours():
    (day,) = report("day")
    assert (day.start, day.end) == ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00")
    assert (day.offered, day.answered, day.abandoned, day.transfers) == (5, 4, 1, 1)
    assert day.service_level == 2 / 5  # c1 and c6 within 20 s
    assert day.average_speed_of_answer == (15 + 30 + 25 + 20) / 4
    # c1's customer came back (c3) the same day; c2, c4, c6 were resolved at first contact.
    assert day.first_contact_resolution == 3 / 4


def test_by_queue_agent_and_channel():
    by_queue = {r.group: r for r in report("day", "queue")}
    assert {q: (r.offered, r.answered, r.abandoned) for q, r in by_queue.items()} == {
        "": (0, 0, 0),  # c5: the bot's contact, never queued
        "billing": (3, 3, 0),
        "sales": (2, 1, 1),
    }
    by_agent = {r.group: r.answered for r in report("day", "agent")}
    assert by_agent == {"": 0, "ana": 2, "bob": 2}
    by_channel = {r.group: r.offered for r in report("day", "channel")}
    assert by_channel == {"sms": 1, "voice": 1, "webchat": 3}


def test_quarter_hours_in_the_autumn_hour_that_repeats():
    events = [
        event("a", Step.QUEUED, "2026-10-25T02:10:00+02:00", queue="q"),
        event("a", Step.CLOSED, "2026-10-25T02:11:00+02:00"),
        event("b", Step.QUEUED, "2026-10-25T02:10:00+01:00", queue="q"),
        event("b", Step.CLOSED, "2026-10-25T02:11:00+01:00"),
    ]
    query = parse_report_query(
        tenant_id="acme", start="2026-10-25", end="2026-10-26", interval="15m", time_zone="Europe/Berlin"
    )
    rows = report_rows(query, totals_by(ContactLedger().apply(events), query))
    # Both at 02:10 on the wall clock, an hour apart: two intervals, each with its own offset.
    assert [(r.start, r.abandoned) for r in rows] == [
        ("2026-10-25T02:00:00+02:00", 1),
        ("2026-10-25T02:00:00+01:00", 1),
    ]
    day = parse_report_query(
        tenant_id="acme", start="2026-10-25", end="2026-10-26", interval="day", time_zone="Europe/Berlin"
    )
    (whole,) = report_rows(day, totals_by(ContactLedger().apply(events), day))
    assert at(whole.end) - at(whole.start) == 25 * 3600


def test_a_brand_scoped_report_sees_only_its_brands():
    assert report("day", brands=frozenset({"other-brand"})) == []
    (day,) = report("day", brands=frozenset({"acme-retail"}))
    assert day.offered == 5


def test_redelivered_and_late_events_change_nothing():
    events = scripted_day()
    ledger = ContactLedger()
    first = ledger.apply(events[:20])
    # A restarted consumer gets the unacknowledged tail again, and some of what it had.
    rest = ledger.apply(events[10:] + events[:5])
    assert sorted(f.contact_id for f in first + rest) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert first + rest == ContactLedger().apply(events)


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": ""}, "end"),
        ({"start": "2026-03-30", "end": "2026-03-29"}, "end"),
        ({"interval": "week"}, "interval"),
        ({"group_by": "colour"}, "group_by"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"service_level_seconds": 0}, "service_level_seconds"),
        ({"fcr_days": 0}, "fcr_days"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
        ({"start": "2026-01-01", "end": "2026-12-01", "interval": "15m"}, "interval"),
        ({"tenant_id": ""}, "tenant_id"),
    ],
)
def test_bad_parameters_are_named(parameters, named):
    arguments = {"tenant_id": "acme", "start": "2026-03-29", "end": "2026-03-30", **parameters}
    with pytest.raises(ReportError) as raised:
        parse_report_query(**arguments)
    assert raised.value.parameter == named
    assert str(raised.value).startswith(f"{named}: ")


def test_a_late_event_of_a_forgotten_contact_opens_nothing():
    ledger = ContactLedger(finished_memory=1)
    ledger.apply(
        [
            event("old", Step.QUEUED, "2026-03-29T10:00:00+02:00", queue="q"),
            event("old", Step.CLOSED, "2026-03-29T10:01:00+02:00"),
            event("new", Step.QUEUED, "2026-03-29T10:02:00+02:00", queue="q"),
            event("new", Step.CLOSED, "2026-03-29T10:03:00+02:00"),
        ]
    )
    assert ledger.finished() == ["new"]  # "old" is beyond the memory now
    late = event("old", Step.INSIGHT, "2026-03-29T10:04:00+02:00", sentiment=0.1, has_sentiment=True)
    assert ledger.apply([late]) == []
    assert list(ledger.open_contacts()) == []


def test_overflowed_and_idle_contacts_are_not_abandoned():
    events = [
        event("handed", Step.QUEUED, "2026-03-29T10:00:00+02:00", queue="q"),
        event("handed", Step.OVERFLOWED, "2026-03-29T10:01:00+02:00", queue="us-q"),
        event("idle", Step.QUEUED, "2026-03-29T10:00:00+02:00", queue="q"),
        event("later", Step.CREATED, "2026-03-30T11:00:00+02:00"),
    ]
    ledger = ContactLedger()
    stored = ledger.apply(events) + ledger.expire(idle_seconds=86_400, now=at("2026-03-30T11:00:00+02:00"))
    outcomes = {f.contact_id: (f.offered, f.abandoned, f.outcome) for f in stored}
    assert outcomes == {"handed": (True, False, "overflowed"), "idle": (True, False, "unclosed")}


@pytest.mark.parametrize("applied", [9, 23, 40])
def test_the_whole_stream_again_on_top_of_what_was_applied_changes_nothing(applied):
    events = scripted_day()
    ledger = ContactLedger()
    stored = ledger.apply(events[:applied]) + ledger.apply(events)
    assert sorted(stored, key=lambda f: f.contact_id) == ContactLedger().apply(events)


def test_service_level_against_each_queues_target():
    targets = {
        # billing answers webchat within 25 s (c1 15 s, c2 30 s, c4 25 s), other channels 30 s.
        "billing": QueueTarget(within_seconds=30, by_channel={"webchat": 25}),
        "sales": QueueTarget(within_seconds=10),  # c6 in 20 s misses it, c3 abandoned
    }
    by_queue = {r.group: r.service_level for r in report("day", "queue", queue_targets=targets)}
    assert by_queue == {"": None, "billing": 2 / 3, "sales": 0.0}
    # One threshold for all, when the report names one.
    by_queue = {r.group: r.service_level for r in report("day", "queue", service_level_seconds=30)}
    assert by_queue == {"": None, "billing": 1.0, "sales": 0.5}
