"""Agents' state intervals in the analytics store's directory: Parquet files by UTC day, beside
the contacts, with a manifest of their own.

    agent_states/date=2026-03-29/part-000000042-0.parquet   intervals, by UTC day they start in
    agent_states/manifest.json                              the committed files and open stays

A commit writes the new part files, then replaces the manifest (files and the agents' open
stays) in one rename: that rename is the commit. A part file the manifest does not name is the
leftover of a commit that did not happen and is deleted on open (its events come again, as they
were never acknowledged). A day that gathered many files is merged into one the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contactcenter.events.v1 import events_pb2
from integration.adapters.analytics_files import day_of, day_of_file, write_atomically
from integration.domain.analytics_agent_states import AgentInterval, AgentStateEvent, AgentStays, OpenStay

DIRECTORY = "agent_states"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Part files of one day beyond which the day is merged into one file.
MERGE_AT_FILES = 16
#: The event types the store folds (the analytics consumer's subject filters).
AGENT_STATE_TYPES = ("agent_state_changed",)

INTERVAL_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("piece", pa.int32()),
        ("tenant_id", pa.string()),
        ("agent_id", pa.string()),
        ("state", pa.string()),
        ("reason", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
    ]
)
assert INTERVAL_SCHEMA.names == [f.name for f in fields(AgentInterval)], "the schema follows the row"


def agent_state_event(event: events_pb2.Event) -> AgentStateEvent | None:
    """The state change an AgentStateChanged event tells; None for any other event."""
    if event.WhichOneof("payload") != "agent_state_changed":
        return None
    changed = event.agent_state_changed
    return AgentStateEvent(
        event_id=event.event_id,
        tenant_id=event.tenant.tenant_id,
        agent_id=changed.agent_id,
        previous=changed.previous_state,
        state=changed.state,
        reason=changed.reason,
        at=event.occurred_at.seconds + event.occurred_at.nanos / 1e9,
    )


def intervals_table(rows: Sequence[AgentInterval]) -> pa.Table:
    return pa.table(
        {name: [getattr(r, name) for r in rows] for name in INTERVAL_SCHEMA.names}, schema=INTERVAL_SCHEMA
    )


class ParquetAgentStateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: list[str] = []
        self._sequence = 0
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: Path) -> ParquetAgentStateStore:
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
            self._write_manifest([], [])
        committed = set(self._files)
        for leftover in directory.rglob("*.parquet*"):
            if str(leftover.relative_to(self.root)) not in committed:
                leftover.unlink()

    def stays(self) -> AgentStays:
        """The agents' open stays as of the last commit."""
        with self._lock:
            manifest = orjson.loads((self.root / DIRECTORY / MANIFEST).read_bytes())
        return AgentStays(OpenStay(**item) for item in manifest["open"])

    def files(self) -> list[str]:
        return list(self._files)

    async def commit(self, intervals: Sequence[AgentInterval], stays: AgentStays) -> None:
        open_stays = [asdict(stay) for stay in stays.open_stays()]
        await asyncio.to_thread(self._commit, intervals, open_stays)

    def _commit(self, intervals: Sequence[AgentInterval], open_stays: list[dict[str, Any]]) -> None:
        with self._lock:
            self._sequence += 1
            by_day: dict[str, list[AgentInterval]] = defaultdict(list)
            for interval in intervals:
                by_day[day_of(interval.start)].append(interval)
            files = list(self._files)
            for index, (day, rows) in enumerate(sorted(by_day.items())):
                files.append(self._write_part(day, index, intervals_table(rows)))
            merged_away = self._merge_crowded_days(files)
            self._write_manifest(files, open_stays)
            self._files = files
            for name in merged_away:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / name).unlink()

    async def intervals(self, tenant_id: str, start: float, end: float) -> list[AgentInterval]:
        """The tenant's stored intervals that overlap [start, end)."""
        return await asyncio.to_thread(self._intervals, tenant_id, start, end)

    def _intervals(self, tenant_id: str, start: float, end: float) -> list[AgentInterval]:
        first, last = day_of(start), day_of(end)
        with self._lock:
            names = [n for n in self._files if first <= day_of_file(n) <= last]
        rows: list[AgentInterval] = []
        for name in names:
            table = pq.read_table(self.root / name, schema=INTERVAL_SCHEMA)
            keep = pc.and_(
                pc.equal(table["tenant_id"], tenant_id),
                pc.and_(pc.less(table["start"], end), pc.greater(table["end"], start)),
            )
            rows.extend(AgentInterval(**row) for row in table.filter(keep).to_pylist())
        return rows

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
            manifest = orjson.loads((self.root / DIRECTORY / MANIFEST).read_bytes())
            self._write_manifest(files, manifest["open"])
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

    def _merge_crowded_days(self, files: list[str]) -> list[str]:
        by_day: dict[str, list[str]] = defaultdict(list)
        for name in files:
            by_day[day_of_file(name)].append(name)
        merged_away: list[str] = []
        for day, names in by_day.items():
            if len(names) < MERGE_AT_FILES:
                continue
            table = pa.concat_tables([pq.read_table(self.root / n, schema=INTERVAL_SCHEMA) for n in names])
            merged = self._write_part(day, len(names) + 1000, table)
            for name in names:
                files.remove(name)
            files.append(merged)
            merged_away.extend(names)
        return merged_away

    def _write_manifest(self, files: list[str], open_stays: list[dict[str, Any]]) -> None:
        manifest = {
            "version": MANIFEST_VERSION,
            "sequence": self._sequence,
            "files": files,
            "open": open_stays,
        }
        path = self.root / DIRECTORY / MANIFEST
        write_atomically(path, lambda target: target.write_bytes(orjson.dumps(manifest)))
