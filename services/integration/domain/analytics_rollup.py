"""Pre-aggregated quarter-hour rollups of the stored contacts: when a report may read them (pure).

Reading every contact of a month to sum it by queue costs seconds over millions of rows; the sums
themselves are additive, so each commit also stores them per UTC quarter hour (a row per tenant,
quarter, brand, queue, channel and one more dimension value) and a report adds the quarters up.
A quarter-hour row answers any 15-minute, hourly or daily interval of a zone whose UTC offset is
a whole number of quarter hours (every zone in use today, Nepal's +05:45 included) and whose
clock changes on a quarter hour, for a period starting and ending on a quarter hour.

What a rollup cannot hold:
- the service level for any threshold: it keeps the answered-within counts for `THRESHOLDS`
  (the targets contact centers set); a queue target off that list is read from the contacts;
- first-contact resolution: whether a contact was resolved depends on the customer's later
  contacts, so it is always computed from the contacts (over narrow columns).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_metrics import DEFAULT_THRESHOLD_SECONDS, Dimension, ReportQuery, totals_of
from integration.domain.analytics_time import offset_segments

QUARTER_SECONDS = 900

#: Answered-within thresholds (seconds) a rollup counts; 20 s is the default target.
THRESHOLDS: tuple[int, ...] = (
    5,
    10,
    15,
    20,
    25,
    30,
    40,
    45,
    60,
    90,
    120,
    180,
    240,
    300,
    600,
    900,
    1800,
    3600,
)

#: The dimensions a rollup row carries as its extra `dimension`/`value` pair; queue, channel and
#: brand are columns of every row (the service-level threshold depends on queue and channel).
VALUE_DIMENSIONS: tuple[Dimension, ...] = (Dimension.AGENT, Dimension.LANGUAGE, Dimension.INTENT)
#: Rows whose `dimension` is empty hold the totals of (quarter, brand, queue, channel).
NO_DIMENSION = ""


def within_column(seconds: float) -> str:
    return f"within_{int(seconds)}"


def on_threshold_list(seconds: float) -> bool:
    return seconds == int(seconds) and int(seconds) in THRESHOLDS


def thresholds_of(query: ReportQuery) -> set[float]:
    """Every threshold the report applies (one for all, or the queues' targets and the default)."""
    if query.service_level_seconds is not None:
        return {query.service_level_seconds}
    found = {DEFAULT_THRESHOLD_SECONDS}
    for target in query.queue_targets.values():
        found.add(target.within_seconds)
        found.update(target.by_channel.values())
    return found


def rollup_dimension(query: ReportQuery) -> str:
    """The `dimension` of the rollup rows that answer the query."""
    if query.group_by in VALUE_DIMENSIONS:
        return query.group_by.value
    return NO_DIMENSION


def answerable_by_rollups(query: ReportQuery) -> bool:
    """Whether quarter-hour rollups give exactly what the contacts would."""
    if query.start % QUARTER_SECONDS or query.end % QUARTER_SECONDS:
        return False
    if not all(on_threshold_list(seconds) for seconds in thresholds_of(query)):
        return False
    segments = offset_segments(query.zone, query.start - 86_400, query.end + 86_400)
    if any(segment.offset % QUARTER_SECONDS for segment in segments):
        return False
    return all(segment.since % QUARTER_SECONDS == 0 for segment in segments[1:])


#: A rollup row's key: tenant, quarter (UTC epoch seconds it starts at), brand, queue, channel,
#: dimension ("" or one of `VALUE_DIMENSIONS`) and the contact's value of it.
RollupKey = tuple[str, float, str, str, str, str, str]

#: A rollup row's sums, in this order (the store's columns follow it).
SUM_COLUMNS: tuple[str, ...] = (
    "offered",
    "answered",
    "abandoned",
    "wait_sum",
    "handle_sum",
    "acw_sum",
    "acw_count",
    "abandon_wait_sum",
    "transfers",
    "fcr_eligible",
    "sentiment_sum",
    "sentiment_count",
    *(within_column(seconds) for seconds in THRESHOLDS),
)


def quarter_of(at: float) -> float:
    return math.floor(at / QUARTER_SECONDS) * QUARTER_SECONDS


def _sums_of(fact: ContactFact) -> list[float]:
    # The definitions are `totals_of`'s; the threshold and resolution are filled in per report.
    totals = totals_of(fact, DEFAULT_THRESHOLD_SECONDS, resolved=False)
    answered_offered = fact.offered and fact.answered
    return [
        totals.offered,
        totals.answered,
        totals.abandoned,
        totals.wait_sum,
        totals.handle_sum,
        totals.acw_sum,
        totals.acw_count,
        totals.abandon_wait_sum,
        totals.transfers,
        totals.fcr_eligible,
        totals.sentiment_sum,
        totals.sentiment_count,
        *(int(answered_offered and fact.wait_seconds <= seconds) for seconds in THRESHOLDS),
    ]


def rollup_rows(facts: Iterable[ContactFact]) -> dict[RollupKey, list[float]]:
    """The rollup rows of `facts`: per key, the sums in `SUM_COLUMNS` order."""
    rows: dict[RollupKey, list[float]] = {}
    for fact in facts:
        sums = _sums_of(fact)
        base = (fact.tenant_id, quarter_of(fact.arrived_at), fact.brand, fact.queue, fact.channel)
        keys = [(*base, NO_DIMENSION, "")]
        keys += [(*base, dimension.value, dimension.of(fact)) for dimension in VALUE_DIMENSIONS]
        for key in keys:
            row = rows.get(key)
            if row is None:
                rows[key] = list(sums)
            else:
                for index, value in enumerate(sums):
                    row[index] += value
    return rows
