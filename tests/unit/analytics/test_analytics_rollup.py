"""When quarter-hour rollups answer a report exactly, and what a contact adds to them."""

from __future__ import annotations

import pytest

from integration.domain.analytics_facts import ContactLedger
from integration.domain.analytics_metrics import QueueTarget
from integration.domain.analytics_query import parse_report_query
from integration.domain.analytics_rollup import SUM_COLUMNS, answerable_by_rollups, quarter_of, rollup_rows
from tests.analytics_day import scripted_day


def query(**asked: object):
    arguments = {
        "tenant_id": "acme",
        "start": "2026-03-29",
        "end": "2026-03-30",
        "time_zone": "Europe/Berlin",
    }
    return parse_report_query(**{**arguments, **asked})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("asked", "answerable"),
    [
        ({}, True),  # the clock change at 01:00 UTC falls on a quarter hour
        ({"time_zone": "Asia/Kathmandu", "interval": "15m"}, True),  # +05:45
        ({"service_level_seconds": 25}, True),
        ({"queue_targets": {"billing": QueueTarget(30, {"webchat": 45})}}, True),
        ({"service_level_seconds": 16}, False),  # a threshold the rollups do not count
        ({"queue_targets": {"billing": QueueTarget(30, {"webchat": 17})}}, False),
        ({"start": "2026-03-29T00:10:00"}, False),  # the period starts inside a quarter
        ({"end": "2026-03-29T23:59:59"}, False),
        # Monrovia kept -00:44:30 until 1972: its hours do not start on a UTC quarter hour.
        ({"time_zone": "Africa/Monrovia", "start": "1970-03-01", "end": "1970-03-02"}, False),
    ],
)
def test_rollups_answer_only_what_they_hold_exactly(asked, answerable):
    assert answerable_by_rollups(query(**asked)) is answerable


def test_a_contact_adds_to_one_row_per_dimension():
    facts = ContactLedger().apply(scripted_day())
    c4 = next(fact for fact in facts if fact.contact_id == "c4")  # billing, wait 25 s, one transfer
    rows = rollup_rows([c4])
    base = ("acme", quarter_of(c4.queued_at), c4.brand, "billing", "webchat")
    assert set(rows) == {
        (*base, "", ""),
        (*base, "agent", "bob"),
        (*base, "language", c4.language),
        (*base, "intent", c4.intent),
    }
    sums = dict(zip(SUM_COLUMNS, rows[(*base, "", "")], strict=True))
    assert (sums["offered"], sums["answered"], sums["transfers"], sums["wait_sum"]) == (1, 1, 1, 25)
    assert (sums["within_20"], sums["within_25"], sums["within_30"]) == (0, 1, 1)
    # Two contacts of one key add up in one row.
    assert rollup_rows([c4, c4])[(*base, "", "")][0] == 2
