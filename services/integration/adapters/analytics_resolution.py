"""First-contact resolution per day, computed once and kept while the contacts it read stay the same.

Whether a contact was resolved at first contact depends on the customer's contacts in the N days
after it, so it cannot be summed when the contact is stored. It is computed for a whole UTC day
of arrival at a time (every tenant, every brand: a customer coming back anywhere makes a repeat
contact), as quarter-hour rows shaped like the rollups, and kept under `resolution/` with the
names of the contact files it read (the day and the N+1 days after it). A later query for the
same N uses the kept rows as long as those days hold the same files; a commit to any of them (a
new part file, a merge) makes the day computed again. The rows are a cache: losing them costs a
recomputation, never a wrong figure, so they live outside the manifest.

    resolution/fcr=7/date=2026-03-29.parquet
    resolution/index.json    {"7": {"2026-03-29": {"file": ..., "reads": [contact files]}}}
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from integration.domain.analytics_rollup import VALUE_DIMENSIONS

INDEX = "index.json"
#: How long a replaced file stays for the reports that listed it before it was replaced.
RETIRED_SECONDS = 300.0
#: Rows per row group (rows come sorted by dimension: a report skips the other dimensions' groups).
ROW_GROUP = 8192

RESOLUTION_SCHEMA = pa.schema(
    [
        ("tenant_id", pa.string()),
        ("quarter", pa.float64()),
        ("brand", pa.string()),
        ("queue", pa.string()),
        ("channel", pa.string()),
        ("dimension", pa.string()),
        ("value", pa.string()),
        ("fcr_resolved", pa.int64()),
    ]
)


def build_sql(fcr_days: int) -> str:
    """Resolved contacts per rollup key of the contacts arriving in [?, ?) (parameters: the
    period files, start, end, the horizon files). Resolved: answered, of a known customer, with
    no other contact of that customer (same tenant) at the same instant or within `fcr_days`
    after; the same definition as `analytics_sql.totals_sql`."""
    window = int(fcr_days) * 86_400
    dimensions = ", ".join(f"('{d}')" for d in ("", *(v.value for v in VALUE_DIMENSIONS)))
    value = " ".join(f"WHEN '{d.value}' THEN {d.value}" for d in VALUE_DIMENSIONS)
    # Only the store's column names and numbers are formatted in; periods and files are bound.
    return f"""
    WITH period AS (
        SELECT * FROM (
            SELECT tenant_id, brand, queue, channel, agent, language, intent, customer_id, created_at,
                CASE WHEN queued_at > 0 THEN queued_at ELSE created_at END AS t
            FROM read_parquet(?, union_by_name => true) WHERE answered AND customer_id <> ''
        ) WHERE t >= ? AND t < ?
    ),
    -- A customer is known within a tenant: the key hashes both.
    asked AS (SELECT DISTINCT hash(tenant_id, customer_id) AS k FROM period),
    visits AS (
        SELECT hash(tenant_id, customer_id) AS k, created_at, count(*) AS together
        FROM read_parquet(?, union_by_name => true)
        WHERE customer_id <> '' AND hash(tenant_id, customer_id) IN (SELECT k FROM asked)
        GROUP BY ALL
    ),
    resolution AS (
        SELECT k, created_at,
            together = 1 AND coalesce(lead(created_at) OVER w > created_at + {window}, true) AS resolved
        FROM visits WINDOW w AS (PARTITION BY k ORDER BY created_at)
    ),
    resolved AS (
        SELECT period.* FROM period JOIN resolution
          ON resolution.k = hash(period.tenant_id, period.customer_id)
         AND resolution.created_at = period.created_at
        WHERE resolution.resolved
    )
    SELECT tenant_id, floor(t / 900) * 900 AS quarter, brand, queue, channel, dimension,
        CASE dimension {value} ELSE '' END AS value, count(*) AS fcr_resolved,
        CAST(floor(t / 86400) AS BIGINT) AS epoch_day
    FROM resolved CROSS JOIN (VALUES {dimensions}) AS d(dimension)
    GROUP BY ALL
    ORDER BY dimension, quarter
    """  # noqa: S608


class ResolutionCache:
    def __init__(self, root: Path) -> None:
        self.root = root / "resolution"
        self._lock = threading.Lock()
        #: Replaced files (when, name), deleted once no report can still be reading them.
        self._retired: list[tuple[float, str]] = []
        # Files the index does not name were replaced before a restart (or written by a query
        # that stopped half-way): nobody reads them now.
        named = {entry["file"] for entries in self._index().values() for entry in entries.values()}
        for path in self.root.rglob("*.parquet") if self.root.exists() else ():
            if str(path.relative_to(self.root)) not in named:
                path.unlink()

    def _index(self) -> dict[str, Any]:
        try:
            index = orjson.loads((self.root / INDEX).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        return index if isinstance(index, dict) else {}

    def files(
        self,
        fcr_days: int,
        days: list[str],
        reads_of: dict[str, list[str]],
        compute: Any,
    ) -> list[str]:
        """The resolution files of `days` for `fcr_days`; days whose kept rows read other files
        than `reads_of[day]` now names are computed again with `compute(stale_days)`, which
        returns one table of rows (every stale day's)."""
        with self._lock:
            kept = self._index().get(str(fcr_days), {})
        stale = [d for d in days if kept.get(d, {}).get("reads") != reads_of[d]]
        if stale:
            table = compute(stale)
            self._keep(fcr_days, stale, reads_of, table)
            with self._lock:
                kept = self._index().get(str(fcr_days), {})
        return [str(self.root / kept[d]["file"]) for d in days if d in kept]

    def _keep(self, fcr_days: int, days: list[str], reads_of: dict[str, list[str]], table: pa.Table) -> None:
        epoch_days = table["epoch_day"]
        table = table.select(RESOLUTION_SCHEMA.names).cast(RESOLUTION_SCHEMA)
        written: dict[str, str] = {}
        for day in days:
            name = f"fcr={fcr_days}/date={day}/{uuid.uuid4().hex[:12]}.parquet"
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = table.filter(pc.equal(epoch_days, _epoch_day(day)))
            pq.write_table(rows, path, row_group_size=ROW_GROUP)
            written[day] = name
        with self._lock:
            index = self._index()
            entries = index.setdefault(str(fcr_days), {})
            replaced = [entries[d]["file"] for d in days if d in entries]
            for day, name in written.items():
                entries[day] = {"file": name, "reads": reads_of[day]}
            temporary = self.root / (INDEX + ".tmp")
            temporary.write_bytes(orjson.dumps(index))
            temporary.replace(self.root / INDEX)
        # A report that listed a replaced file may still be reading it: it goes a while later.
        now = time.monotonic()
        self._retired += [(now, name) for name in replaced]
        while self._retired and now - self._retired[0][0] > RETIRED_SECONDS:
            with contextlib.suppress(FileNotFoundError):
                (self.root / self._retired.pop(0)[1]).unlink()

    def drop_before(self, day: str) -> None:
        """Forget the days before `day` (the store removed their contacts)."""
        with self._lock:
            index = self._index()
            gone = [
                entries.pop(d)["file"] for entries in index.values() for d in [d for d in entries if d < day]
            ]
            if not gone:
                return
            temporary = self.root / (INDEX + ".tmp")
            temporary.write_bytes(orjson.dumps(index))
            temporary.replace(self.root / INDEX)
        for name in gone:
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()
            with contextlib.suppress(OSError):
                (self.root / name).parent.rmdir()


def _epoch_day(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days
