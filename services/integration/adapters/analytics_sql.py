"""The SQL the analytics store runs over its contact files (DuckDB), built from a query.

Only the store's own column names and numbers are formatted into the text; every value a caller
gave (tenant, period, brands, thresholds, queue names) is a bound parameter.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from integration.domain.analytics_export import ExportQuery
from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_metrics import DEFAULT_THRESHOLD_SECONDS, GroupTotals, ReportQuery, Totals
from integration.domain.analytics_time import Interval, day_ordinal, local_midnight, offset_segments

_COLUMNS = [f.name for f in fields(ContactFact)]


def contacts_sql(query: ExportQuery, files: list[str]) -> tuple[str, list[Any]]:
    """One page of an export: the query's contacts after its key, in (arrival, id) order."""
    parameters: list[Any] = [files, query.tenant_id, query.start, query.end]
    filters = ""
    if query.brands:
        filters += " AND brand IN (SELECT unnest(?))"
        parameters.append(sorted(query.brands))
    if query.after is not None:
        filters += " AND (t > ? OR (t = ? AND contact_id > ?))"
        parameters.extend([query.after[0], query.after[0], query.after[1]])
    parameters.append(query.page_size)
    # Only the store's own column names are formatted in; every value a caller gave is bound.
    sql = f"""
    SELECT {", ".join(_COLUMNS)} FROM (
        SELECT *, CASE WHEN queued_at > 0 THEN queued_at ELSE created_at END AS t
        FROM read_parquet(?, union_by_name => true) WHERE tenant_id = ?
    ) WHERE t >= ? AND t < ? {filters}
    ORDER BY t, contact_id LIMIT ?
    """  # noqa: S608
    return sql, parameters


_TOTALS = [
    "offered",
    "answered",
    "abandoned",
    "answered_in_threshold",
    "wait_sum",
    "handle_sum",
    "acw_sum",
    "acw_count",
    "abandon_wait_sum",
    "transfers",
    "fcr_eligible",
    "fcr_resolved",
    "sentiment_sum",
    "sentiment_count",
]
assert [f.name for f in fields(Totals)] == _TOTALS, "the SQL sums follow Totals field by field"


#: How each of `Totals`' sums over contacts is written in SQL, but the two a report reads
#: differently: the answered within its threshold (`answered_within`) and the resolved (which
#: need the customer's later contacts). The rollups sum the same terms (`analytics_rollup_sql`).
CONTACT_SUMS: dict[str, str] = {
    "offered": "count(*) FILTER (WHERE queued_at > 0)",
    "answered": "count(*) FILTER (WHERE queued_at > 0 AND answered)",
    "abandoned": "count(*) FILTER (WHERE queued_at > 0 AND abandoned)",
    "wait_sum": "coalesce(sum(wait_seconds) FILTER (WHERE queued_at > 0 AND answered), 0)",
    "handle_sum": "coalesce(sum(handle_seconds) FILTER (WHERE queued_at > 0 AND answered), 0)",
    "acw_sum": "coalesce(sum(acw_seconds) FILTER (WHERE answered AND acw_seconds > 0), 0)",
    "acw_count": "count(*) FILTER (WHERE answered AND acw_seconds > 0)",
    "abandon_wait_sum": "coalesce(sum(abandon_seconds) FILTER (WHERE queued_at > 0 AND abandoned), 0)",
    "transfers": "coalesce(sum(transfers), 0)",
    "fcr_eligible": "count(*) FILTER (WHERE answered AND customer_id <> '')",
    "sentiment_sum": "coalesce(sum(sentiment_sum), 0)",
    "sentiment_count": "coalesce(sum(sentiment_count), 0)",
}


def answered_within(threshold: str) -> str:
    """The answered-within sum for `threshold` (a number or an expression of the row)."""
    return f"count(*) FILTER (WHERE queued_at > 0 AND answered AND wait_seconds <= {threshold})"


#: The columns a report reads (Parquet reads only these).
_QUERIED = (
    "contact_id",
    "brand",
    "channel",
    "customer_id",
    "queue",
    "agent",
    "language",
    "intent",
    "sentiment_sum",
    "sentiment_count",
    "created_at",
    "queued_at",
    "wait_seconds",
    "handle_seconds",
    "acw_seconds",
    "abandon_seconds",
    "transfers",
    "answered",
    "abandoned",
)


def _offset_expression(query: ReportQuery) -> str:
    """The zone's UTC offset at `t` (epoch seconds), as a CASE over the period's segments."""
    segments = offset_segments(query.zone, query.start - 86_400, query.end + 86_400)
    cases = " ".join(f"WHEN t >= {s.since!r} THEN {s.offset}" for s in reversed(segments[1:]))
    return f"(CASE {cases} ELSE {segments[0].offset} END)" if cases else str(segments[0].offset)


def _threshold_expression(query: ReportQuery) -> tuple[str, list[Any]]:
    """`ReportQuery.threshold` in SQL: queue names and seconds are bound parameters."""
    if query.service_level_seconds is not None:
        return "?", [query.service_level_seconds]
    cases: list[str] = []
    parameters: list[Any] = []
    for queue, target in sorted(query.queue_targets.items()):
        for channel, seconds in sorted(target.by_channel.items()):
            cases.append("WHEN queue = ? AND channel = ? THEN ?")
            parameters += [queue, channel, seconds]
        cases.append("WHEN queue = ? THEN ?")
        parameters += [queue, target.within_seconds]
    if not cases:
        return "?", [DEFAULT_THRESHOLD_SECONDS]
    return f"(CASE {' '.join(cases)} ELSE ? END)", [*parameters, DEFAULT_THRESHOLD_SECONDS]


def bucket_expression(query: ReportQuery) -> str:
    """The interval of instant `t` in SQL: its start (UTC epoch seconds), or for days the local
    day number, whose midnight is found in Python (a day may last 23 or 25 hours)."""
    offset = _offset_expression(query)
    if query.interval is Interval.DAY:
        return f"floor((t + {offset}) / 86400)"
    return f"t - ((t + {offset}) % {query.interval.seconds})"


def _resolution_ctes(query: ReportQuery, columns: str) -> tuple[str, list[Any]]:
    """`period` (the query's contacts with `t`, their arrival) and `scoped` (the same with
    `resolved`: first-contact resolution); the parameters are the period files' list, then
    the horizon files' list (see `totals_sql`)."""
    brand_filter = "AND brand IN (SELECT unnest(?))" if query.brands else ""
    window = query.fcr_days * 86_400
    ctes = f"""
    WITH period AS (
        SELECT * FROM (
            SELECT {columns}, CASE WHEN queued_at > 0 THEN queued_at ELSE created_at END AS t
            FROM read_parquet(?, union_by_name => true) WHERE tenant_id = ?
        ) WHERE t >= ? AND t < ? {brand_filter}
    ),
    asked AS (SELECT DISTINCT hash(customer_id) AS k FROM period WHERE answered AND customer_id <> ''),
    -- Every contact, up to the resolution horizon, of the customers whose resolution is asked
    -- (of any brand: a customer coming back is a repeat contact wherever they come back).
    visits AS (
        SELECT hash(customer_id) AS k, created_at, count(*) AS together
        FROM read_parquet(?, union_by_name => true)
        WHERE tenant_id = ? AND customer_id <> '' AND hash(customer_id) IN (SELECT k FROM asked)
        GROUP BY ALL
    ),
    -- Sorting narrow (customer, instant) pairs, not whole rows: the cost of a long period.
    resolution AS (
        SELECT k, created_at,
            together = 1 AND coalesce(lead(created_at) OVER w > created_at + {window}, true) AS resolved
        FROM visits WINDOW w AS (PARTITION BY k ORDER BY created_at)
    ),
    scoped AS (
        SELECT period.*, coalesce(resolution.resolved, false) AS resolved
        FROM period LEFT JOIN resolution
          ON resolution.k = hash(period.customer_id) AND resolution.created_at = period.created_at
    )
    """  # noqa: S608
    return ctes, [query.start, query.end, *([sorted(query.brands)] if query.brands else [])]


def totals_sql(query: ReportQuery, files: list[str], horizon_files: list[str]) -> tuple[str, list[Any]]:
    """`files` hold the period's contacts, `horizon_files` also the later ones that decide
    first-contact resolution. The same definitions as `analytics_metrics.totals_of`."""
    group = query.group_by.value if query.group_by is not None else "''"
    threshold, threshold_parameters = _threshold_expression(query)
    ctes, period = _resolution_ctes(query, ", ".join(_QUERIED))
    terms = {
        **CONTACT_SUMS,
        "answered_in_threshold": answered_within(threshold),
        "fcr_resolved": "count(*) FILTER (WHERE answered AND customer_id <> '' AND resolved)",
    }
    sums = ",\n        ".join(terms[name] for name in _TOTALS)
    sql = f"""{ctes}
    SELECT {bucket_expression(query)} AS bucket, {group} AS grp,
        {sums}
    FROM scoped GROUP BY ALL
    """  # noqa: S608
    parameters: list[Any] = [files, query.tenant_id, *period, horizon_files, query.tenant_id]
    return sql, parameters + threshold_parameters


def bucket_start_of(query: ReportQuery, bucket: Any) -> float:
    """The UTC start of the interval `bucket_expression` gave."""
    if query.interval is Interval.DAY:
        return local_midnight(day_ordinal(int(bucket)), query.zone)
    return float(bucket)


def group_totals(query: ReportQuery, row: tuple[Any, ...]) -> GroupTotals:
    bucket, group, *sums = row
    start = bucket_start_of(query, bucket)
    totals = Totals(
        *(type(getattr(Totals(), name))(value) for name, value in zip(_TOTALS, sums, strict=True))
    )
    return GroupTotals(start, str(group), totals)
