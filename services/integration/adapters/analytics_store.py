"""The region's analytics store: Parquet files partitioned by date, queried with DuckDB.

Layout under the store's directory (the same files any engine reading Parquet can query: see
docs/analytics.md):

    contacts/date=2026-03-29/part-000042-0.parquet   finished contacts, by UTC day of arrival
    rollups/date=2026-03-29/part-000042-0.parquet    their sums per quarter hour (reports read these)
    episodes/date=2026-03-29/part-000042-0.parquet   surge episodes, by UTC day they started
    reanalyses/date=2026-03-29/part-000042-0.parquet batch re-analyses, by UTC day they ran
    manifest.json                                    the committed files and the open contacts

A commit writes the new part files and their rollups, then replaces `manifest.json` (the files
and the open contacts' state) in one rename: that rename is the commit. A part file the manifest does not
name is the leftover of a commit that did not happen and is deleted on open (its events come
again, as they were never acknowledged). A day that gathered many small files is merged into
one by the same protocol, and so is a day that left the retention period removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from integration.adapters import analytics_resolution, analytics_rollup_sql
from integration.adapters.analytics_files import (
    EPISODE_SCHEMA,
    SCHEMA,
    concatenated,
    conformed,
    day_of,
    day_of_file,
    day_start,
    days_after,
    episodes_table,
    facts_table,
    open_contact,
    open_record,
    rolled_up,
    write_atomically,
)
from integration.adapters.analytics_reanalysis_files import REANALYSIS_SCHEMA, reanalyses_table
from integration.adapters.analytics_sql import (
    bucket_start_of,
    contacts_sql,
    group_totals,
    totals_sql,
)
from integration.domain.analytics_episodes import EpisodeKind, SurgeEpisode, not_yet_kept
from integration.domain.analytics_export import ExportQuery
from integration.domain.analytics_facts import ContactFact, ContactLedger
from integration.domain.analytics_metrics import GroupTotals, ReportQuery
from integration.domain.analytics_reanalysis import ContactReanalysis
from integration.domain.analytics_rollup import answerable_by_rollups, rollup_rows

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Part files of one day beyond which the day is merged into one file.
MERGE_AT_FILES = 16
#: Rows per row group of a rollup file (each group's statistics name its dimensions).
ROLLUP_ROW_GROUP = 8192
#: Part files under this size count as small (a merged file of a busy day is larger).
SMALL_FILE_BYTES = 4 * 1024 * 1024
#: The store's directories of part files.
DIRECTORIES = ("contacts", "rollups", "episodes", "reanalyses")


class ParquetAnalyticsStore:
    def __init__(self, root: Path, *, finished_memory: int = 50_000) -> None:
        self.root = root
        self._finished_memory = finished_memory
        self._files: list[str] = []
        #: The rollup files, one or more per day of `_files` (see `analytics_rollup_sql`).
        self._rollups: list[str] = []
        self._episodes: list[str] = []
        #: Event ids of the episodes kept (surges are rare: all of them are remembered).
        self._episode_ids: set[str] = set()
        self._reanalyses: list[str] = []
        #: Event ids of the re-analyses kept (one id per job and contact).
        self._reanalysis_ids: set[str] = set()
        self._sequence = 0
        #: The open contacts' records as the manifest last written holds them: every manifest
        #: write carries them, and only a commit or an erasure changes them.
        self._open: list[dict[str, Any]] = []
        self._resolution = analytics_resolution.ResolutionCache(root)
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
        backfill = False
        if path.exists():
            manifest = orjson.loads(path.read_bytes())
            if manifest.get("version") != MANIFEST_VERSION:
                raise ValueError(f"{path}: unknown manifest version {manifest.get('version')!r}")
            self.store_id = str(manifest["store_id"])
            self._files = list(manifest["files"])
            self._sequence = int(manifest["sequence"])
            self._open = list(manifest["open"])
            # A store written before rollups existed gets them from its contacts, once.
            backfill = "rollups" not in manifest
            self._rollups = list(manifest.get("rollups", []))
            self._episodes = list(manifest.get("episodes", []))
            self._reanalyses = list(manifest.get("reanalyses", []))
        else:
            self.store_id = uuid.uuid4().hex[:16]
            self._write_manifest([], [], [])
        committed = {*self._files, *self._rollups, *self._episodes, *self._reanalyses}
        for directory in DIRECTORIES:
            for leftover in (self.root / directory).rglob("*.parquet*"):
                if str(leftover.relative_to(self.root)) not in committed:
                    leftover.unlink()
        if backfill:
            self.rebuild_rollups()
        for name in self._episodes:
            self._episode_ids.update(
                pq.read_table(self.root / name, columns=["event_id"]).column(0).to_pylist()
            )
        for name in self._reanalyses:
            self._reanalysis_ids.update(
                pq.read_table(self.root / name, columns=["event_id"]).column(0).to_pylist()
            )

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
                (open_contact(item) for item in manifest["open"]),
                self._recently_stored(),
                self._finished_memory,
            )

    def files(self) -> list[str]:
        return list(self._files)

    def rollup_files(self) -> list[str]:
        return list(self._rollups)

    async def commit(self, facts: Sequence[ContactFact], ledger: ContactLedger) -> None:
        # Taken before the thread runs: the caller may fold the next batch once this returns.
        open_contacts = [open_record(c) for c in ledger.open_contacts()]
        await asyncio.to_thread(self._commit, facts, open_contacts)

    def _commit(self, facts: Sequence[ContactFact], open_contacts: list[dict[str, Any]]) -> None:
        with self._lock:
            self._sequence += 1
            by_day: dict[str, list[ContactFact]] = defaultdict(list)
            for fact in facts:
                by_day[day_of(fact.arrived_at)].append(fact)
            files, rollups = list(self._files), list(self._rollups)
            for index, (day, day_facts) in enumerate(sorted(by_day.items())):
                files.append(self._write_part("contacts", day, index, facts_table(day_facts)))
                rollup = analytics_rollup_sql.rollup_table_of(rollup_rows(day_facts))
                rollups.append(self._write_part("rollups", day, index, rollup))
            merged_away = self._merge_crowded_days(files, concatenated)
            merged_away += self._merge_crowded_days(rollups, rolled_up)
            self._write_manifest(files, rollups, open_contacts)
            self._files, self._rollups = files, rollups
            self._unlink(merged_away)

    def _unlink(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()

    def rebuild_rollups(self) -> None:
        """Compute every day's rollup from its contacts again (a store written before rollups,
        or files placed by hand, as a bulk load does), committed like any commit."""
        with self._lock:
            self._sequence += 1
            by_day: dict[str, list[str]] = defaultdict(list)
            for name in self._files:
                by_day[day_of_file(name)].append(str(self.root / name))
            rollups = []
            for day, paths in sorted(by_day.items()):
                with duckdb.connect() as connection:
                    source = "read_parquet(?, union_by_name => true)"
                    table = connection.sql(
                        analytics_rollup_sql.build_sql(source), params=[paths]
                    ).to_arrow_table()
                rollups.append(self._write_part("rollups", day, 0, conformed(table)))
            replaced = list(self._rollups)
            self._write_manifest(self._files, rollups, self._open)
            self._rollups = rollups
            self._unlink(replaced)

    async def erase_customer(self, tenant_id: str, customer_id: str, ledger: ContactLedger) -> int:
        """Replace the customer's id in every stored and open contact (the ledger's too) by a
        random one: their contacts still count, and still count as one customer's for
        first-contact resolution, but nothing in the store names them. Returns the rows changed."""
        replacement = f"erased-{uuid.uuid4().hex}"
        for contact in ledger.open_contacts():
            if contact.tenant_id == tenant_id and contact.customer_id == customer_id:
                contact.customer_id = replacement
        open_contacts = [open_record(c) for c in ledger.open_contacts()]
        return await asyncio.to_thread(self._erase, tenant_id, customer_id, replacement, open_contacts)

    def _erase(
        self, tenant_id: str, customer_id: str, replacement: str, open_contacts: list[dict[str, Any]]
    ) -> int:
        with self._lock:
            files = list(self._files)
            if not files:
                self._write_manifest(files, self._rollups, open_contacts)
                return 0
            with duckdb.connect() as connection:
                found = connection.execute(
                    "SELECT filename, count(*) FROM read_parquet(?, filename => true, union_by_name => true) "
                    "WHERE tenant_id = ? AND customer_id = ? GROUP BY ALL",
                    [[str(self.root / name) for name in files], tenant_id, customer_id],
                ).fetchall()
            self._sequence += 1
            replaced: list[str] = []
            for index, (path, _) in enumerate(found):
                name = str(Path(path).relative_to(self.root))
                table = pq.read_table(path, schema=SCHEMA)
                theirs = pc.and_(
                    pc.equal(table["tenant_id"], tenant_id), pc.equal(table["customer_id"], customer_id)
                )
                column = pc.if_else(theirs, replacement, table["customer_id"])
                table = table.set_column(SCHEMA.get_field_index("customer_id"), "customer_id", column)
                files[files.index(name)] = self._write_part("contacts", day_of_file(name), index, table)
                replaced.append(name)
            self._write_manifest(files, self._rollups, open_contacts)
            self._files = files
            self._unlink(replaced)
            return sum(int(count) for _, count in found)

    async def add_episodes(self, episodes: Sequence[SurgeEpisode]) -> None:
        await asyncio.to_thread(self._add_episodes, episodes)

    def _add_episodes(self, episodes: Sequence[SurgeEpisode]) -> None:
        with self._lock:
            fresh = not_yet_kept(list(episodes), self._episode_ids)
            if not fresh:
                return
            self._sequence += 1
            by_day: dict[str, list[SurgeEpisode]] = defaultdict(list)
            for episode in fresh:
                by_day[day_of(episode.started_at)].append(episode)
            added = [
                self._write_part("episodes", day, index, episodes_table(day_episodes))
                for index, (day, day_episodes) in enumerate(sorted(by_day.items()))
            ]
            self._write_manifest(self._files, self._rollups, self._open, [*self._episodes, *added])
            self._episodes += added
            self._episode_ids.update(e.event_id for e in fresh)

    async def add_reanalyses(self, rows: Sequence[ContactReanalysis]) -> None:
        await asyncio.to_thread(self._add_reanalyses, rows)

    def _add_reanalyses(self, rows: Sequence[ContactReanalysis]) -> None:
        with self._lock:
            fresh: dict[str, ContactReanalysis] = {}
            for row in rows:
                if row.event_id not in self._reanalysis_ids:
                    fresh.setdefault(row.event_id, row)
            if not fresh:
                return
            self._sequence += 1
            by_day: dict[str, list[ContactReanalysis]] = defaultdict(list)
            for row in fresh.values():
                by_day[day_of(row.analysed_at)].append(row)
            added = [
                self._write_part("reanalyses", day, index, reanalyses_table(day_rows))
                for index, (day, day_rows) in enumerate(sorted(by_day.items()))
            ]
            self._write_manifest(
                self._files, self._rollups, self._open, reanalyses=[*self._reanalyses, *added]
            )
            self._reanalyses += added
            self._reanalysis_ids.update(fresh)

    def reanalyses(self) -> list[ContactReanalysis]:
        """Every kept re-analysis (for checks; engines read the files)."""
        with self._lock:
            names = list(self._reanalyses)
        return [
            ContactReanalysis(**row)
            for name in names
            for row in pq.read_table(self.root / name, schema=REANALYSIS_SCHEMA).to_pylist()
        ]

    def episodes(self) -> list[SurgeEpisode]:
        """Every kept surge episode (for checks; engines read the files)."""
        with self._lock:
            names = list(self._episodes)
        return [
            SurgeEpisode(**{**row, "kind": EpisodeKind(row["kind"])})
            for name in names
            for row in pq.read_table(self.root / name, schema=EPISODE_SCHEMA).to_pylist()
        ]

    async def expire_before(self, day: str) -> list[str]:
        return await asyncio.to_thread(self.expire_days_before, day)

    def expire_days_before(self, day: str) -> list[str]:
        """Remove the days before `day` (YYYY-MM-DD, UTC): the retention period's end. Returns
        the days removed. The manifest stops naming their files first, then they are deleted."""
        with self._lock:
            every = self._files + self._rollups + self._episodes + self._reanalyses
            expired = sorted({day_of_file(n) for n in every if day_of_file(n) < day})
            if not expired:
                return []
            gone = [n for n in every if day_of_file(n) < day]
            self._sequence += 1
            files = [n for n in self._files if day_of_file(n) >= day]
            rollups = [n for n in self._rollups if day_of_file(n) >= day]
            episodes = [n for n in self._episodes if day_of_file(n) >= day]
            reanalyses = [n for n in self._reanalyses if day_of_file(n) >= day]
            self._write_manifest(files, rollups, self._open, episodes, reanalyses)
            self._files, self._rollups, self._episodes = files, rollups, episodes
            self._reanalyses = reanalyses
            self._unlink(gone)
            self._resolution.drop_before(day)
            for expired_day in expired:
                for directory in DIRECTORIES:
                    with contextlib.suppress(OSError):
                        (self.root / directory / f"date={expired_day}").rmdir()
            return expired

    def _write_part(self, directory: str, day: str, index: int, table: pa.Table) -> str:
        relative = f"{directory}/date={day}/part-{self._sequence:09d}-{index}.parquet"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rollups come sorted by dimension: small row groups let a report skip the other ones.
        rows_per_group = ROLLUP_ROW_GROUP if directory == "rollups" else None
        write_atomically(
            path,
            lambda target: pq.write_table(table, target, compression="zstd", row_group_size=rows_per_group),
        )
        return relative

    def _merge_crowded_days(self, files: list[str], merge: Any) -> list[str]:
        """Merge each day with too many small files into one (`merge` makes the one table of a
        day's file paths); `files` is updated in place and the names merged away are returned
        (deleted once the manifest no longer names them)."""
        by_day: dict[str, list[str]] = defaultdict(list)
        for name in files:
            # Only small files are merged: a busy day's merged file is not rewritten each time.
            if (self.root / name).stat().st_size < SMALL_FILE_BYTES:
                by_day[day_of_file(name)].append(name)
        merged_away: list[str] = []
        for day, names in by_day.items():
            if len(names) < MERGE_AT_FILES:
                continue
            table = merge([str(self.root / n) for n in names])
            merged = self._write_part(names[0].split("/")[0], day, len(names) + 1000, table)
            for name in names:
                files.remove(name)
            files.append(merged)
            merged_away.extend(names)
        return merged_away

    def _write_manifest(
        self,
        files: list[str],
        rollups: list[str],
        open_contacts: list[dict[str, Any]],
        episodes: list[str] | None = None,
        reanalyses: list[str] | None = None,
    ) -> None:
        manifest = {
            "version": MANIFEST_VERSION,
            "store_id": self.store_id,
            "sequence": self._sequence,
            "files": files,
            "rollups": rollups,
            "episodes": self._episodes if episodes is None else episodes,
            "reanalyses": self._reanalyses if reanalyses is None else reanalyses,
            "open": open_contacts,
        }
        write_atomically(self.root / MANIFEST, lambda target: target.write_bytes(orjson.dumps(manifest)))
        self._open = open_contacts

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

    def _files_for(self, start: float, end: float, names: list[str] | None = None) -> list[str]:
        # Partitions hold contacts by UTC day of arrival; FCR needs the days after the period.
        first, last = day_of(start), day_of(end)
        return [
            str(self.root / name)
            for name in (self._files if names is None else names)
            if first <= day_of_file(name) <= last
        ]

    def _totals(self, query: ReportQuery) -> list[GroupTotals]:
        if not answerable_by_rollups(query):
            return self.totals_from_contacts(query)
        with self._lock:
            files = self._files_for(query.start, query.end)
            rollups = self._files_for(query.start, query.end, self._rollups)
        if not files:
            return []
        with duckdb.connect() as connection:
            sql, parameters = analytics_rollup_sql.report_sql(query, rollups)
            groups = [group_totals(query, row) for row in connection.execute(sql, parameters).fetchall()]
            resolved: dict[tuple[float, str], int] = {}
            if resolution := self._resolution_files(query.start, query.end, query.fcr_days):
                sql, parameters = analytics_rollup_sql.resolved_sql(query, resolution)
                resolved = {
                    (bucket_start_of(query, bucket), str(group)): int(count)
                    for bucket, group, count in connection.execute(sql, parameters).fetchall()
                }
        for item in groups:
            item.totals.fcr_resolved = resolved.get((item.bucket_start, item.group), 0)
        return groups

    async def warm_resolution(self, start: float, end: float, fcr_days: int) -> int:
        """Compute the days' first-contact resolution where it is not kept (or stale), so the
        first report of a recent period does not pay for it; the days covered."""
        return len(await asyncio.to_thread(self._resolution_files, start, end, fcr_days))

    def _resolution_files(self, start: float, end: float, fcr_days: int) -> list[str]:
        """The kept first-contact resolution of the period's days, computed where missing."""
        with self._lock:
            names = list(self._files)
        by_day: dict[str, list[str]] = defaultdict(list)
        for name in names:
            by_day[day_of_file(name)].append(name)
        first, last = day_of(start), day_of(end - 1e-3)
        days = sorted(d for d in by_day if first <= d <= last)
        window = fcr_days + 1
        reads_of = {
            day: sorted(n for d, ns in by_day.items() if day <= d <= days_after(day, window) for n in ns)
            for day in days
        }

        def compute(stale: list[str]) -> pa.Table:
            period = [str(self.root / n) for d in stale for n in by_day[d]]
            horizon_end = days_after(stale[-1], window)
            horizon = [
                str(self.root / n) for d, ns in by_day.items() if stale[0] <= d <= horizon_end for n in ns
            ]
            start, end = day_start(stale[0]), day_start(stale[-1]) + 86_400
            with duckdb.connect() as connection:
                sql = analytics_resolution.build_sql(fcr_days)
                return connection.sql(sql, params=[period, start, end, horizon]).to_arrow_table()

        return self._resolution.files(fcr_days, days, reads_of, compute)

    def totals_from_contacts(self, query: ReportQuery) -> list[GroupTotals]:
        """The report's sums read from the contacts themselves, never the rollups (the check
        that both agree, and the measure of what rollups save)."""
        with self._lock:
            files = self._files_for(query.start, query.end)
            horizon_files = self._files_for(query.start, query.fcr_horizon)
        if not files:
            return []
        sql, parameters = totals_sql(query, files, horizon_files)
        with duckdb.connect() as connection:
            return [group_totals(query, row) for row in connection.execute(sql, parameters).fetchall()]

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
