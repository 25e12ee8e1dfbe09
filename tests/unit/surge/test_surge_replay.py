"""`ccctl surge replay FILE.csv`: each row's score and alert flag as CSV; malformed rows named
and nothing written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ccctl.main import main
from ccsurge.replay import ReplayInputError, parse_timestamp, read_series
from ccsurge.simulate import MONDAY, Change, traffic


def write_week(path: Path, *, timestamp_column: str = "timestamp", value_column: str = "value") -> Change:
    burst = Change(MONDAY + 86_400 + 11 * 3600, 20 * 60, 10.0)
    ends, arrivals = traffic(MONDAY, 1, seed=3, changes=(burst,))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", timestamp_column, value_column])
        for i, (at, value) in enumerate(zip(ends.tolist(), arrivals.tolist(), strict=True)):
            writer.writerow([i, int(at), int(value)])
    return burst


def test_replay_writes_each_rows_score_and_flags_the_burst(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    burst = write_week(tmp_path / "week.csv", timestamp_column="ts", value_column="n")
    code = main(
        [
            "surge",
            "replay",
            str(tmp_path / "week.csv"),
            "--timestamp-column",
            "ts",
            "--value-column",
            "n",
            "--counts",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 7 * 24 * 60
    assert set(rows[0]) == {"timestamp", "value", "baseline", "score", "alert", "direction"}
    alerting = [float(r["timestamp"]) for r in rows if r["alert"] == "1"]
    assert alerting, "the burst was not flagged"
    # Flagged from within two minutes of the burst's start, and nothing outside it and its clearing.
    assert burst.start < alerting[0] <= burst.start + 120
    assert alerting[-1] <= burst.start + burst.seconds + 600
    assert all(
        float(r["score"]) > 6 for r in rows if r["alert"] == "1" and float(r["timestamp"]) < burst.start + 600
    )


def test_a_malformed_row_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,value\n"
        "2014-04-01 00:00:00,5\n"
        "2014-04-01 00:05:00,abc\n"
        "2014-04-01 00:10:00,3,4\n"
        "yesterday,1\n"
        "2014-04-01 00:20:00,7\n"
        "2014-04-01 00:15:00,7\n"
    )
    code = main(["surge", "replay", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "row 3: value 'abc' is not a number" in err
    assert "row 4: 3 fields where the header has 2" in err
    assert "row 5: timestamp 'yesterday' is neither epoch seconds nor ISO 8601" in err
    assert "row 7: timestamp '2014-04-01 00:15:00' is earlier than the row before" in err


def test_a_missing_column_names_the_option_to_choose_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("time,count\n0,1\n")
    assert main(["surge", "replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no column 'timestamp'" in err and "--timestamp-column" in err


def test_a_missing_file_and_a_bad_setting_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["surge", "replay", str(tmp_path / "absent.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    write_week(tmp_path / "week.csv")
    assert main(["surge", "replay", str(tmp_path / "week.csv"), "--sensitivity", "0"]) == 2
    assert "sensitivity" in capsys.readouterr().err
    assert main(["surge", "replay", str(tmp_path / "week.csv"), "--clear-duration", "-1"]) == 2
    assert "clear_duration_seconds" in capsys.readouterr().err


def test_the_clear_duration_is_how_long_calm_holds_before_the_alert_clears(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    burst = write_week(tmp_path / "week.csv")
    cleared: list[float] = []
    for seconds in ("120", "1800"):
        command = ["surge", "replay", str(tmp_path / "week.csv"), "--counts", "--clear-duration", seconds]
        assert main(command) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        cleared.append(max(float(r["timestamp"]) for r in rows if r["alert"] == "1"))
    end = burst.start + burst.seconds
    # Calm must last the whole half hour before the longer setting lets go.
    assert end <= cleared[0] < cleared[1]
    assert cleared[1] >= end + 1800 - 60


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1400000000", 1_400_000_000.0),
        ("2014-04-01 00:00:00", 1_396_310_400.0),
        ("2014-04-01T00:00:00Z", 1_396_310_400.0),
        ("2014-04-01T02:00:00+02:00", 1_396_310_400.0),
    ],
)
def test_timestamps_are_epoch_seconds_or_iso_8601_utc_by_default(text: str, seconds: float) -> None:
    assert parse_timestamp(text) == seconds


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ReplayInputError, match="empty"):
        read_series([])


def test_non_count_values_get_a_scale_floor_from_their_magnitude(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A flat CPU-like signal then a jump: without the floor the first wiggle would be infinite.
    lines = (
        ["timestamp,value"]
        + [f"{i * 300},{50.0 + (i % 2) * 0.001}" for i in range(40)]
        + ["12000,90.0", "12300,91.0"]
    )
    path = tmp_path / "cpu.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["surge", "replay", str(path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert all(r["alert"] == "0" for r in rows[:40])
    assert rows[-1]["alert"] == "1" and rows[-1]["direction"] == "1"


def test_replay_reads_stdin_when_the_file_is_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("timestamp,value\n0,1\n60,1\n120,1\n"))
    assert main(["surge", "replay", "-", "--counts"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["timestamp"] for r in rows] == ["0", "60", "120"]
    assert all(r["alert"] == "0" for r in rows)
