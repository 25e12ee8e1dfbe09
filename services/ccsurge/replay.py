"""Offline detection: a CSV of (timestamp, value) rows through one detector, row by row.

`read_series` checks every row before anything is judged, so a malformed file produces no
partial output: the error names each bad row (1-based, the header being row 1) and why.
Timestamps are seconds since the epoch or ISO 8601 (`2014-04-01 00:05:00`, `...T...Z`,
with an offset); a time without an offset is UTC. Rows must be in time order.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ccsurge.assessment import SurgeKey, SurgeMetric
from ccsurge.detector import Detector
from ccsurge.settings import DetectorSettings

#: Bad rows listed in one error at most (a wholly wrong file would otherwise flood the terminal).
MAX_REPORTED_ROWS = 10


class ReplayInputError(ValueError):
    """The CSV cannot be replayed; `rows` are the (row number, problem) pairs found."""

    def __init__(self, message: str, rows: tuple[tuple[int, str], ...] = ()) -> None:
        super().__init__(message)
        self.rows = rows


@dataclass(frozen=True)
class Series:
    #: The timestamps as they were written (echoed in the output) and as epoch seconds.
    labels: tuple[str, ...]
    times: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ScoredRow:
    timestamp: str
    value: float
    baseline: float
    score: float
    alert: bool
    direction: int


def parse_timestamp(text: str) -> float:
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"timestamp {text!r} is not a finite number")
        return seconds
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither epoch seconds nor ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_series(
    lines: Iterable[str], *, timestamp_column: str = "timestamp", value_column: str = "value"
) -> Series:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ReplayInputError("the file is empty (a header row naming the columns is expected)")
    names = [name.strip() for name in header]
    for wanted, option in ((timestamp_column, "--timestamp-column"), (value_column, "--value-column")):
        if wanted not in names:
            raise ReplayInputError(
                f"row 1: no column {wanted!r} (the header has {', '.join(map(repr, names))}; "
                f"choose one with {option})"
            )
    at_index, value_index = names.index(timestamp_column), names.index(value_column)
    labels: list[str] = []
    times: list[float] = []
    values: list[float] = []
    problems: list[tuple[int, str]] = []
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry nothing
        problem = _row_problem(row, at_index, value_index, len(names))
        if problem is None:
            at = parse_timestamp(row[at_index])
            if times and at < times[-1]:
                problem = f"timestamp {row[at_index].strip()!r} is earlier than the row before"
            else:
                labels.append(row[at_index].strip())
                times.append(at)
                values.append(float(row[value_index]))
                continue
        problems.append((number, problem))
    if problems:
        shown = "; ".join(f"row {n}: {why}" for n, why in problems[:MAX_REPORTED_ROWS])
        more = len(problems) - MAX_REPORTED_ROWS
        raise ReplayInputError(
            f"{len(problems)} malformed row(s): {shown}" + (f"; and {more} more" if more > 0 else ""),
            tuple(problems),
        )
    return Series(tuple(labels), tuple(times), tuple(values))


def _row_problem(row: list[str], at_index: int, value_index: int, columns: int) -> str | None:
    if len(row) != columns:
        return f"{len(row)} fields where the header has {columns}"
    try:
        parse_timestamp(row[at_index])
    except ValueError as error:
        return str(error)
    text = row[value_index].strip()
    try:
        value = float(text)
    except ValueError:
        return f"value {text!r} is not a number"
    if not math.isfinite(value):
        return f"value {text!r} is not a finite number"
    return None


def replay_settings(series: Series, settings: DetectorSettings) -> DetectorSettings:
    """A file starts wherever its signal is: the first value is the cold-start baseline (no
    history says otherwise). Values that are not counts have a unit of their own: the scale's
    floor becomes 1% of the series' typical magnitude, so a perfectly flat stretch does not make
    every wiggle infinite."""
    if not series.values:
        return settings
    first = series.values[0]
    if settings.counts:
        return replace(settings, cold_start_baseline=max(first, 0.0))
    magnitudes = sorted(abs(v) for v in series.values)
    typical = magnitudes[len(magnitudes) // 2]
    return replace(settings, min_scale=max(typical * 0.01, 1e-9), cold_start_baseline=first)


def replay(series: Series, settings: DetectorSettings) -> Iterator[ScoredRow]:
    detector = Detector(SurgeKey("replay", "replay"), SurgeMetric.ARRIVALS, replay_settings(series, settings))
    for label, at, value in zip(series.labels, series.times, series.values, strict=True):
        assessment = detector.observe(at, value)
        yield ScoredRow(
            label, value, assessment.baseline, assessment.score, assessment.alert, assessment.direction
        )
