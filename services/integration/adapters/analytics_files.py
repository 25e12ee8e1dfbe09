"""The analytics store's file formats: the Parquet schemas of its contacts and surge episodes, the
open contacts' records in the manifest, and the helpers that write and merge files durably."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from integration.adapters import analytics_rollup_sql
from integration.domain.analytics_episodes import SurgeEpisode
from integration.domain.analytics_facts import ContactFact, OpenContact

SCHEMA = pa.schema(
    [
        ("contact_id", pa.string()),
        ("tenant_id", pa.string()),
        ("brand", pa.string()),
        ("channel", pa.string()),
        ("customer_id", pa.string()),
        ("queue", pa.string()),
        ("final_queue", pa.string()),
        ("agent", pa.string()),
        ("language", pa.string()),
        ("intent", pa.string()),
        ("sentiment_sum", pa.float64()),
        ("sentiment_count", pa.int32()),
        ("outcome", pa.string()),
        ("created_at", pa.float64()),
        ("queued_at", pa.float64()),
        ("answered_at", pa.float64()),
        ("closed_at", pa.float64()),
        ("wait_seconds", pa.float64()),
        ("handle_seconds", pa.float64()),
        ("acw_seconds", pa.float64()),
        ("abandon_seconds", pa.float64()),
        ("transfers", pa.int32()),
        ("answered", pa.bool_()),
        ("abandoned", pa.bool_()),
    ]
)
_COLUMNS = [f.name for f in fields(ContactFact)]
assert SCHEMA.names == _COLUMNS, "the Parquet schema follows ContactFact field by field"


def day_of(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def facts_table(facts: Sequence[ContactFact]) -> pa.Table:
    columns = {name: [getattr(f, name) for f in facts] for name in _COLUMNS}
    return pa.table(columns, schema=SCHEMA)


EPISODE_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("tenant_id", pa.string()),
        ("kind", pa.string()),
        ("queue", pa.string()),
        ("started_at", pa.float64()),
        ("ended_at", pa.float64()),
        ("channel", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("baseline", pa.float64()),
        ("score", pa.float64()),
        ("direction", pa.int32()),
        ("policy", pa.string()),
        ("actions", pa.string()),
        ("failed_actions", pa.string()),
        ("reason", pa.string()),
    ]
)
assert EPISODE_SCHEMA.names == [f.name for f in fields(SurgeEpisode)], "the schema follows SurgeEpisode"


def episodes_table(episodes: Sequence[SurgeEpisode]) -> pa.Table:
    columns = {
        name: [str(getattr(e, name)) if name == "kind" else getattr(e, name) for e in episodes]
        for name in EPISODE_SCHEMA.names
    }
    return pa.table(columns, schema=EPISODE_SCHEMA)


def conformed(table: pa.Table) -> pa.Table:
    # The files keep one schema whatever types DuckDB chose.
    return table.select(analytics_rollup_sql.ROLLUP_SCHEMA.names).cast(analytics_rollup_sql.ROLLUP_SCHEMA)


def concatenated(paths: list[str]) -> pa.Table:
    return pa.concat_tables(pq.read_table(path, schema=SCHEMA) for path in paths)


def rolled_up(paths: list[str]) -> pa.Table:
    with duckdb.connect() as connection:
        return conformed(connection.sql(analytics_rollup_sql.merge_sql(), params=[paths]).to_arrow_table())


def day_start(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def days_after(day: str, count: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=count)).isoformat()


def day_of_file(name: str) -> str:
    """The day of a committed file's partition (`contacts/date=2026-03-29/...`)."""
    return name.split("/")[1].removeprefix("date=")


def write_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    # The rename itself is durable only once the directory is synced (the commit point).
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


_OPEN_FIELDS = [f.name for f in fields(OpenContact) if f.name != "applied"]


def open_record(contact: OpenContact) -> dict[str, Any]:
    record = {name: getattr(contact, name) for name in _OPEN_FIELDS}
    record["applied"] = list(contact.applied)
    return record


def open_contact(record: dict[str, Any]) -> OpenContact:
    return OpenContact(**{**record, "applied": set(record["applied"])})
