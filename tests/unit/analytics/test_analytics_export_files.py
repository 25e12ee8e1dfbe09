"""An exported contact carries no customer id; `ccctl report export` writes the pages as CSV
(empty where nothing was measured) or as one Parquet file with typed columns, and refuses
Parquet without a file."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import pyarrow.parquet as pq

from ccctl.commands.report_export import COLUMNS, CsvSink, ParquetSink, record
from ccctl.main import main as ccctl
from integration.domain.analytics_facts import ContactLedger
from integration.entrypoints.report import exported_contact
from tests.analytics_day import scripted_day


def exported() -> list[dict]:
    return [record(exported_contact(fact)) for fact in ContactLedger().apply(scripted_day())]


def test_an_exported_contact_has_no_customer_and_a_mean_sentiment():
    assert "customer_id" not in COLUMNS
    rows = {row["contact_id"]: row for row in exported()}
    assert rows["c1"]["sentiment"] == 0.5 and rows["c1"]["answered"] is True
    assert rows["c3"]["sentiment"] is None and rows["c3"]["abandoned"] is True
    assert rows["c4"]["transfers"] == 1 and rows["c4"]["agent"] == "bob"


def test_csv_pages_follow_one_header():
    out = io.StringIO()
    sink = CsvSink(out)
    rows = exported()
    sink.write(rows[:2])
    sink.write(rows[2:])
    sink.close()
    read = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["contact_id"] for row in read] == [row["contact_id"] for row in rows]
    c3 = next(row for row in read if row["contact_id"] == "c3")
    assert c3["sentiment"] == "" and c3["abandoned"] == "True"


def test_parquet_pages_make_one_typed_file(tmp_path: Path):
    path = tmp_path / "contacts.parquet"
    sink = ParquetSink(path)
    rows = exported()
    sink.write(rows[:3])
    sink.write([])
    sink.write(rows[3:])
    sink.close()
    table = pq.read_table(path)
    assert table.column_names == COLUMNS
    assert table.to_pylist() == rows
    assert str(table.schema.field("wait_seconds").type) == "double"
    empty = tmp_path / "none.parquet"
    ParquetSink(empty).close()
    assert pq.read_table(empty).column_names == COLUMNS


def test_parquet_needs_a_file_and_report_still_needs_its_period():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = ccctl(["report", "export", "--tenant", "acme", "--from", "2026-03-29", "--to", "2026-03-30",
                      "--format", "parquet"])  # fmt: skip
    assert code == 2 and "--file: required for --format parquet" in err.getvalue()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert ccctl(["report", "--tenant", "acme", "--end", "2026-03-30"]) == 2
    assert "--start: required" in err.getvalue()
