"""The quarter-hour rollups' SQL (DuckDB): building them from contacts, merging them, reading a
report from them. What they hold and when a report may use them: `domain/analytics_rollup.py`.

The sums follow `analytics_sql.totals_sql` (and so `analytics_metrics.totals_of`) term by term;
a test holds a report from rollups equal to the same report from the contacts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from integration.adapters.analytics_sql import CONTACT_SUMS, answered_within, bucket_expression
from integration.domain.analytics_metrics import DEFAULT_THRESHOLD_SECONDS, ReportQuery
from integration.domain.analytics_rollup import (
    NO_DIMENSION,
    SUM_COLUMNS,
    THRESHOLDS,
    VALUE_DIMENSIONS,
    RollupKey,
    rollup_dimension,
    within_column,
)

KEY_COLUMNS = ("tenant_id", "quarter", "brand", "queue", "channel", "dimension", "value")

#: (column, type, the SQL that sums it over contacts). Sums of a rollup's rows add up again.
_SUMS: tuple[tuple[str, pa.DataType, str], ...] = (
    *(
        (name, pa.float64() if name.endswith("_sum") else pa.int64(), expression)
        for name, expression in CONTACT_SUMS.items()
    ),
    *((within_column(seconds), pa.int64(), answered_within(str(seconds))) for seconds in THRESHOLDS),
)

assert tuple(name for name, _, _ in _SUMS) == SUM_COLUMNS, "the SQL sums follow the domain's rollup sums"

ROLLUP_SCHEMA = pa.schema(
    [
        *((name, pa.float64() if name == "quarter" else pa.string()) for name in KEY_COLUMNS),
        *((name, kind) for name, kind, _ in _SUMS),
    ]
)


def rollup_table_of(rows: Mapping[RollupKey, list[float]]) -> pa.Table:
    """`analytics_rollup.rollup_rows` as a table of the rollup files' schema."""
    # Sorted by dimension, then quarter: a report reads one dimension, and row groups of the
    # others are skipped by their statistics.
    keys = sorted(rows, key=lambda key: (key[5], key[1]))
    sums = [rows[key] for key in keys]
    columns: dict[str, list[Any]] = {name: [key[i] for key in keys] for i, name in enumerate(KEY_COLUMNS)}
    for index, name in enumerate(SUM_COLUMNS):
        columns[name] = [row[index] for row in sums]
    return pa.table(columns, schema=ROLLUP_SCHEMA)


def _sql_type(kind: pa.DataType) -> str:
    return "DOUBLE" if kind == pa.float64() else "BIGINT"


def build_sql(source: str) -> str:
    """The rollup rows of the contacts in `source` (a table name or a `read_parquet(?)`): one
    per (tenant, quarter of arrival, brand, queue, channel) with no dimension, and one per
    value of each of `VALUE_DIMENSIONS` besides."""
    dimensions = ", ".join(f"('{d}')" for d in (NO_DIMENSION, *(v.value for v in VALUE_DIMENSIONS)))
    value = " ".join(f"WHEN '{d.value}' THEN {d.value}" for d in VALUE_DIMENSIONS)
    sums = ",\n        ".join(
        f"CAST({expression} AS {_sql_type(kind)}) AS {name}" for name, kind, expression in _SUMS
    )
    return f"""
    SELECT tenant_id, quarter, brand, queue, channel, dimension,
        CASE dimension {value} ELSE '' END AS value,
        {sums}
    FROM (
        SELECT *, floor(CASE WHEN queued_at > 0 THEN queued_at ELSE created_at END / 900) * 900 AS quarter
        FROM {source}
    ) CROSS JOIN (VALUES {dimensions}) AS d(dimension)
    GROUP BY ALL
    ORDER BY dimension, quarter
    """  # noqa: S608


def merge_sql() -> str:
    """Rollup rows of several files (parameter: their list) summed into one row per key."""
    keys = ", ".join(KEY_COLUMNS)
    sums = ", ".join(f"CAST(sum({name}) AS {_sql_type(kind)}) AS {name}" for name, kind, _ in _SUMS)
    return (
        f"SELECT {keys}, {sums} FROM read_parquet(?, union_by_name => true) "  # noqa: S608
        "GROUP BY ALL ORDER BY dimension, quarter"
    )


def _within_expression(query: ReportQuery) -> tuple[str, list[Any]]:
    """The answered-within column of each row's threshold (`ReportQuery.threshold`); the caller
    checked every threshold is one the rollups count."""
    if query.service_level_seconds is not None:
        return within_column(query.service_level_seconds), []
    cases: list[str] = []
    parameters: list[Any] = []
    for queue, target in sorted(query.queue_targets.items()):
        for channel, seconds in sorted(target.by_channel.items()):
            cases.append(f"WHEN queue = ? AND channel = ? THEN {within_column(seconds)}")
            parameters += [queue, channel]
        cases.append(f"WHEN queue = ? THEN {within_column(target.within_seconds)}")
        parameters.append(queue)
    default = within_column(DEFAULT_THRESHOLD_SECONDS)
    if not cases:
        return default, []
    return f"(CASE {' '.join(cases)} ELSE {default} END)", parameters


def _grouped(query: ReportQuery, sums: str, files: list[str]) -> tuple[str, list[Any]]:
    """`sums` per (interval, group) over rollup-shaped `files` in the query's period."""
    if query.group_by is None:
        group = "''"
    elif query.group_by in VALUE_DIMENSIONS:
        group = "value"
    else:
        group = query.group_by.value
    brand_filter = "AND brand IN (SELECT unnest(?))" if query.brands else ""
    sql = f"""
    SELECT {bucket_expression(query)} AS bucket, {group} AS grp, {sums}
    FROM (
        SELECT *, quarter AS t FROM read_parquet(?, union_by_name => true)
        WHERE tenant_id = ? AND dimension = ?
    ) WHERE t >= ? AND t < ? {brand_filter}
    GROUP BY ALL
    """  # noqa: S608
    parameters: list[Any] = [
        files,
        query.tenant_id,
        rollup_dimension(query),
        query.start,
        query.end,
        *([sorted(query.brands)] if query.brands else []),
    ]
    return sql, parameters


def report_sql(query: ReportQuery, files: list[str]) -> tuple[str, list[Any]]:
    """Per (interval, group) the sums `analytics_sql.totals_sql` gives, from rollup `files`;
    first-contact resolution comes as 0 (see `resolved_sql`)."""
    within, within_parameters = _within_expression(query)
    sums = f"""sum(offered), sum(answered), sum(abandoned), sum({within}),
        sum(wait_sum), sum(handle_sum), sum(acw_sum), sum(acw_count), sum(abandon_wait_sum),
        sum(transfers), sum(fcr_eligible), 0, sum(sentiment_sum), sum(sentiment_count)"""
    sql, parameters = _grouped(query, sums, files)
    return sql, within_parameters + parameters


def resolved_sql(query: ReportQuery, files: list[str]) -> tuple[str, list[Any]]:
    """Resolved contacts per (interval, group) from the kept resolution `files`
    (`analytics_resolution`)."""
    return _grouped(query, "sum(fcr_resolved)", files)
