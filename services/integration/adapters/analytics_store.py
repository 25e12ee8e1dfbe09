"""The region's analytics store: Parquet files partitioned by date, queried with DuckDB.

Layout under the store's directory (the same files any engine reading Parquet can query: see
docs/analytics.md):

    contacts/date=2026-03-29/part-000042-0.parquet   finished contacts, by UTC day of arrival
    manifest.json                                    the committed files and the open contacts

A commit writes the new part files, then replaces `manifest.json` (the part files and the open
contacts' state) in one rename: that rename is the commit. A part file the manifest does not
name is the leftover of a commit that did not happen and is deleted on open (its events come
again, as they were never acknowledged). A day that gathered many small files is merged into
one by the same protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from integration.domain.analytics_export import ExportQuery
from integration.domain.analytics_facts import ContactFact, ContactLedger, OpenContact
from integration.domain.analytics_metrics import (
    DEFAULT_THRESHOLD_SECONDS,
    GroupTotals,
    ReportQuery,
    Totals,
)
from integration.domain.analytics_time import Interval, day_ordinal, local_midnight, offset_segments

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Part files of one day beyond which the day is merged into one file.
MERGE_AT_FILES = 16
#: Part files under this size count as small (a merged file of a busy day is larger).
SMALL_FILE_BYTES = 4 * 1024 * 1024

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


def _write_atomically(path: Path, write: Any) -> None:
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


class ParquetAnalyticsStore:
    def __init__(self, root: Path, *, finished_memory: int = 50_000) -> None:
        self.root = root
        self._finished_memory = finished_memory
        self._files: list[str] = []
        self._sequence = 0
        #: Names this store's consumer: its position in the stream belongs to these files, so
        #: a new (empty) store reads the stream from its start and a reopened one resumes.
        self.store_id = ""
        # DuckDB connections are not shared between threads; commits and queries run in threads.
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: Path, *, finished_memory: int = 50_000) -> ParquetAnalyticsStore:
        store = cls(root, finished_memory=finished_memory)
        store._load()
        return store

    def _load(self) -> None:
        (self.root / "contacts").mkdir(parents=True, exist_ok=True)
        path = self.root / MANIFEST
        if path.exists():
            manifest = orjson.loads(path.read_bytes())
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"{path}: unknown manifest version {manifest.get('version')!r}")
            self.store_id = str(manifest["store_id"])
            self._files = list(manifest["files"])
            self._sequence = int(manifest["sequence"])
        else:
            self.store_id = uuid.uuid4().hex[:16]
            self._write_manifest([], [])
        committed = set(self._files)
        for leftover in (self.root / "contacts").rglob("*.parquet*"):
            if str(leftover.relative_to(self.root)) not in committed:
                leftover.unlink()

    def _recently_stored(self) -> list[str]:
        """The contacts of the latest part files, oldest first, up to the ledger's memory: the
        finished contacts whose late or redelivered events must be recognised (read back from
        the files rather than written again with every commit)."""
        recent: list[list[str]] = []
        remembered = 0
        for name in reversed(self._files):
            ids = pq.read_table(self.root / name, columns=["contact_id"]).column(0).to_pylist()
            recent.append(ids)
            remembered += len(ids)
            if remembered >= self._finished_memory:
                break
        return [contact for ids in reversed(recent) for contact in ids]

    def ledger(self) -> ContactLedger:
        """Read from the last commit on disk: called when the service starts and after a failed
        commit (rare), so commits need not keep a copy of what they wrote."""
        with self._lock:
            manifest = orjson.loads((self.root / MANIFEST).read_bytes())
            return ContactLedger(
                (_open_contact(item) for item in manifest["open"]),
                self._recently_stored(),
                self._finished_memory,
            )

    def files(self) -> list[str]:
        return list(self._files)

    async def commit(self, facts: Sequence[ContactFact], ledger: ContactLedger) -> None:
        # Taken before the thread runs: the caller may fold the next batch once this returns.
        open_contacts = [_open_record(c) for c in ledger.open_contacts()]
        await asyncio.to_thread(self._commit, facts, open_contacts)

    def _commit(self, facts: Sequence[ContactFact], open_contacts: list[dict[str, Any]]) -> None:
        with self._lock:
            self._sequence += 1
            by_day: dict[str, list[ContactFact]] = defaultdict(list)
            for fact in facts:
                by_day[day_of(fact.arrived_at)].append(fact)
            files = list(self._files)
            for index, (day, day_facts) in enumerate(sorted(by_day.items())):
                files.append(self._write_part(day, index, facts_table(day_facts)))
            merged_away = self._merge_crowded_days(files)
            self._write_manifest(files, open_contacts)
            self._files = files
            for name in merged_away:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / name).unlink()

    def _write_part(self, day: str, index: int, table: pa.Table) -> str:
        relative = f"contacts/date={day}/part-{self._sequence:09d}-{index}.parquet"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, lambda target: pq.write_table(table, target, compression="zstd"))
        return relative

    def _merge_crowded_days(self, files: list[str]) -> list[str]:
        """Merge each day with too many part files into one; `files` is updated in place and
        the names merged away are returned (deleted once the manifest no longer names them)."""
        by_day: dict[str, list[str]] = defaultdict(list)
        for name in files:
            # Only small files are merged: a busy day's merged file is not rewritten each time.
            if (self.root / name).stat().st_size < SMALL_FILE_BYTES:
                by_day[name.split("/")[1]].append(name)
        merged_away: list[str] = []
        for day_dir, names in by_day.items():
            if len(names) < MERGE_AT_FILES:
                continue
            table = pa.concat_tables(pq.read_table(self.root / n, schema=SCHEMA) for n in names)
            merged = self._write_part(day_dir.removeprefix("date="), len(names) + 1000, table)
            for name in names:
                files.remove(name)
            files.append(merged)
            merged_away.extend(names)
        return merged_away

    def _write_manifest(self, files: list[str], open_contacts: list[dict[str, Any]]) -> None:
        manifest = {
            "version": MANIFEST_VERSION,
            "store_id": self.store_id,
            "sequence": self._sequence,
            "files": files,
            "open": open_contacts,
        }
        _write_atomically(self.root / MANIFEST, lambda target: target.write_bytes(orjson.dumps(manifest)))

    def facts(self) -> list[ContactFact]:
        """Every stored contact (for checks and exports; reports use `totals`)."""
        with self._lock:
            names = list(self._files)
        rows: list[ContactFact] = []
        for name in names:
            for record in pq.read_table(self.root / name, schema=SCHEMA).to_pylist():
                rows.append(ContactFact(**record))
        return rows

    async def totals(self, query: ReportQuery) -> list[GroupTotals]:
        return await asyncio.to_thread(self._totals, query)

    def _files_for(self, start: float, end: float) -> list[str]:
        # Partitions hold contacts by UTC day of arrival; FCR needs the days after the period.
        first, last = day_of(start), day_of(end)
        return [
            str(self.root / name)
            for name in self._files
            if first <= name.split("/")[1].removeprefix("date=") <= last
        ]

    def _totals(self, query: ReportQuery) -> list[GroupTotals]:
        with self._lock:
            files = self._files_for(query.start, query.end)
            horizon_files = self._files_for(query.start, query.fcr_horizon)
        if not files:
            return []
        sql, parameters = totals_sql(query, files, horizon_files)
        with duckdb.connect() as connection:
            rows = connection.execute(sql, parameters).fetchall()
        return [_group_totals(query, row) for row in rows]

    async def contacts(self, query: ExportQuery) -> list[ContactFact]:
        return await asyncio.to_thread(self._contacts, query)

    def _contacts(self, query: ExportQuery) -> list[ContactFact]:
        with self._lock:
            files = self._files_for(query.start, query.end)
        if not files:
            return []
        sql, parameters = contacts_sql(query, files)
        with duckdb.connect() as connection:
            rows = connection.execute(sql, parameters).fetchall()
        return [ContactFact(*row) for row in rows]


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


_OPEN_FIELDS = [f.name for f in fields(OpenContact) if f.name != "applied"]


def _open_record(contact: OpenContact) -> dict[str, Any]:
    record = {name: getattr(contact, name) for name in _OPEN_FIELDS}
    record["applied"] = list(contact.applied)
    return record


def _open_contact(record: dict[str, Any]) -> OpenContact:
    return OpenContact(**{**record, "applied": set(record["applied"])})


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


def totals_sql(query: ReportQuery, files: list[str], horizon_files: list[str]) -> tuple[str, list[Any]]:
    """`files` hold the period's contacts, `horizon_files` also the later ones that decide
    first-contact resolution. The same definitions as `analytics_metrics.totals_of`."""
    offset = _offset_expression(query)
    if query.interval is Interval.DAY:
        # The local day number; its midnight is found in Python (a day may last 23 or 25 hours).
        bucket = f"floor((t + {offset}) / 86400)"
    else:
        width = query.interval.seconds
        bucket = f"t - ((t + {offset}) % {width})"
    group = query.group_by.value if query.group_by is not None else "''"
    brand_filter = "AND brand IN (SELECT unnest(?))" if query.brands else ""
    window = query.fcr_days * 86_400
    columns = ", ".join(_QUERIED)
    threshold, threshold_parameters = _threshold_expression(query)
    # Only the store's own column names and numbers are formatted in; every value a caller
    # gave (tenant, period, brands, threshold) is a bound parameter.
    sql = f"""
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
    SELECT {bucket} AS bucket, {group} AS grp,
        count(*) FILTER (WHERE queued_at > 0),
        count(*) FILTER (WHERE queued_at > 0 AND answered),
        count(*) FILTER (WHERE queued_at > 0 AND abandoned),
        count(*) FILTER (WHERE queued_at > 0 AND answered AND wait_seconds <= {threshold}),
        coalesce(sum(wait_seconds) FILTER (WHERE queued_at > 0 AND answered), 0),
        coalesce(sum(handle_seconds) FILTER (WHERE queued_at > 0 AND answered), 0),
        coalesce(sum(acw_seconds) FILTER (WHERE answered AND acw_seconds > 0), 0),
        count(*) FILTER (WHERE answered AND acw_seconds > 0),
        coalesce(sum(abandon_seconds) FILTER (WHERE queued_at > 0 AND abandoned), 0),
        coalesce(sum(transfers), 0),
        count(*) FILTER (WHERE answered AND customer_id <> ''),
        count(*) FILTER (WHERE answered AND customer_id <> '' AND resolved),
        coalesce(sum(sentiment_sum), 0),
        coalesce(sum(sentiment_count), 0)
    FROM scoped GROUP BY ALL
    """  # noqa: S608
    period: list[Any] = [query.start, query.end, *([sorted(query.brands)] if query.brands else [])]
    parameters: list[Any] = [files, query.tenant_id, *period, horizon_files, query.tenant_id]
    return sql, parameters + threshold_parameters


def _group_totals(query: ReportQuery, row: tuple[Any, ...]) -> GroupTotals:
    bucket, group, *sums = row
    if query.interval is Interval.DAY:
        start = local_midnight(day_ordinal(int(bucket)), query.zone)
    else:
        start = float(bucket)
    totals = Totals(
        *(type(getattr(Totals(), name))(value) for name, value in zip(_TOTALS, sums, strict=True))
    )
    return GroupTotals(start, str(group), totals)
