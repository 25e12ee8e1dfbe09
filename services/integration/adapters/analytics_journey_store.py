"""Journey paths in the analytics store's directory: Parquet files by UTC day the journeys
ended, beside the contacts, with a manifest of their own.

    journey_paths/date=2026-03-29/part-000000042-0.parquet   ended journeys
    journey_paths/manifest.json                              the committed files

A commit writes the new part files, then replaces the manifest in one rename: that rename is
the commit; a part file the manifest does not name is a commit that did not happen and is
deleted on open (its events come again, never acknowledged). Each journey is stored once by
its event id: the ids of the kept days are read back on open, so a redelivered or replayed
event is recognised after a restart too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_files import day_of, day_of_file, write_atomically
from integration.domain.analytics_journey_paths import JourneyPathRow, joined_path

DIRECTORY = "journey_paths"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: The event types the store keeps (the analytics consumer's subject filters).
JOURNEY_TYPES = ("journey_ended",)

PATH_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("tenant_id", pa.string()),
        ("brand_id", pa.string()),
        ("journey_id", pa.string()),
        ("flow", pa.string()),
        ("version", pa.int64()),
        ("alias", pa.string()),
        ("path", pa.string()),
        ("truncated", pa.bool_()),
        ("end_node", pa.string()),
        ("outcome", pa.string()),
        ("queue", pa.string()),
        ("detail", pa.string()),
        ("started_at", pa.float64()),
        ("ended_at", pa.float64()),
        ("duration_seconds", pa.float64()),
    ]
)
assert PATH_SCHEMA.names == [f.name for f in fields(JourneyPathRow)], "the schema follows the row"


def journey_path_row(event: events_pb2.Event) -> JourneyPathRow | None:
    """The row a JourneyEnded event tells; None for any other event."""
    if event.WhichOneof("payload") != "journey_ended":
        return None
    ended = event.journey_ended
    return JourneyPathRow(
        event_id=event.event_id,
        tenant_id=event.tenant.tenant_id,
        brand_id=event.tenant.brand_id,
        journey_id=event.contact_id,
        flow=ended.flow,
        version=ended.version,
        alias=ended.alias,
        path=joined_path(ended.path),
        truncated=ended.truncated,
        end_node=ended.end_node,
        outcome=ended.outcome,
        queue=ended.queue,
        detail=ended.detail,
        started_at=ended.started_at,
        ended_at=event.occurred_at.seconds + event.occurred_at.nanos / 1e9,
        duration_seconds=ended.duration_seconds,
    )


def paths_table(rows: Sequence[JourneyPathRow]) -> pa.Table:
    return pa.table(
        {name: [getattr(r, name) for r in rows] for name in PATH_SCHEMA.names}, schema=PATH_SCHEMA
    )


class ParquetJourneyPathStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: list[str] = []
        self._sequence = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: Path) -> ParquetJourneyPathStore:
        store = cls(root)
        store._load()
        return store

    def _load(self) -> None:
        directory = self.root / DIRECTORY
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST
        if path.exists():
            manifest = orjson.loads(path.read_bytes())
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"{path}: unknown manifest version {manifest.get('version')!r}")
            self._files = list(manifest["files"])
            self._sequence = int(manifest["sequence"])
        else:
            self._write_manifest([])
        committed = set(self._files)
        for leftover in directory.rglob("*.parquet*"):
            if str(leftover.relative_to(self.root)) not in committed:
                leftover.unlink()
        for name in self._files:
            self._seen.update(pq.read_table(self.root / name, columns=["event_id"])["event_id"].to_pylist())

    def files(self) -> list[str]:
        return list(self._files)

    async def add(self, rows: Sequence[JourneyPathRow]) -> int:
        """Store the rows of journeys not stored yet (by event id); how many were new."""
        return await asyncio.to_thread(self._add, rows)

    def _add(self, rows: Sequence[JourneyPathRow]) -> int:
        with self._lock:
            fresh: dict[str, JourneyPathRow] = {}
            for row in rows:
                if row.event_id not in self._seen:
                    fresh.setdefault(row.event_id, row)
            if not fresh:
                return 0
            self._sequence += 1
            by_day: dict[str, list[JourneyPathRow]] = defaultdict(list)
            for row in fresh.values():
                by_day[day_of(row.ended_at)].append(row)
            files = list(self._files)
            for index, (day, day_rows) in enumerate(sorted(by_day.items())):
                files.append(self._write_part(day, index, paths_table(day_rows)))
            self._write_manifest(files)
            self._files = files
            self._seen.update(fresh)
            return len(fresh)

    async def rows(self, tenant_id: str, start: float, end: float, flow: str = "") -> list[JourneyPathRow]:
        """The tenant's journeys that ended in [start, end) (of `flow` only, when given)."""
        return await asyncio.to_thread(self._rows, tenant_id, start, end, flow)

    def _rows(self, tenant_id: str, start: float, end: float, flow: str) -> list[JourneyPathRow]:
        first, last = day_of(start), day_of(end)
        with self._lock:
            names = [n for n in self._files if first <= day_of_file(n) <= last]
        found: list[JourneyPathRow] = []
        for name in names:
            table = pq.read_table(self.root / name, schema=PATH_SCHEMA)
            keep = pc.and_(
                pc.equal(table["tenant_id"], tenant_id),
                pc.and_(pc.greater_equal(table["ended_at"], start), pc.less(table["ended_at"], end)),
            )
            if flow:
                keep = pc.and_(keep, pc.equal(table["flow"], flow))
            found.extend(JourneyPathRow(**row) for row in table.filter(keep).to_pylist())
        return found

    async def expire_before(self, day: str) -> list[str]:
        return await asyncio.to_thread(self.expire_days_before, day)

    def expire_days_before(self, day: str) -> list[str]:
        """Remove the days before `day` (YYYY-MM-DD, UTC); the days removed."""
        with self._lock:
            gone = [n for n in self._files if day_of_file(n) < day]
            if not gone:
                return []
            self._sequence += 1
            files = [n for n in self._files if day_of_file(n) >= day]
            self._write_manifest(files)
            self._files = files
            for name in gone:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / name).unlink()
            days = sorted({day_of_file(n) for n in gone})
            for expired in days:
                with contextlib.suppress(OSError):
                    (self.root / DIRECTORY / f"date={expired}").rmdir()
            return days

    def _write_part(self, day: str, index: int, table: pa.Table) -> str:
        relative = f"{DIRECTORY}/date={day}/part-{self._sequence:09d}-{index}.parquet"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda target: pq.write_table(table, target, compression="zstd"))
        return relative

    def _write_manifest(self, files: list[str]) -> None:
        manifest = {"version": MANIFEST_VERSION, "sequence": self._sequence, "files": files}
        path = self.root / DIRECTORY / MANIFEST
        write_atomically(path, lambda target: target.write_bytes(orjson.dumps(manifest)))
