"""Reporting intervals on the wall clock of a time zone (pure).

A 15-minute or hourly interval starts on the local clock's quarter or hour, so in the hour that
repeats when summer time ends each instant falls in its own interval (two intervals labelled
01:00, one hour apart); a day runs from local midnight to local midnight and lasts 23 or 25 hours
on the days the clocks change. Buckets are named by the UTC instant they start at.

The store computes buckets in SQL over millions of rows, where a time zone database is not at
hand: `offset_segments` gives the zone's UTC offsets over the report's range (a handful of
segments), which is all the arithmetic needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

DAY_SECONDS = 86_400


class Interval(StrEnum):
    QUARTER_HOUR = "15m"
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        return {Interval.QUARTER_HOUR: 900, Interval.HOUR: 3600, Interval.DAY: DAY_SECONDS}[self]


def bucket_start(at: float, interval: Interval, zone: ZoneInfo) -> float:
    """The UTC instant (epoch seconds) at which the interval holding `at` starts."""
    local = datetime.fromtimestamp(at, zone)
    if interval is Interval.DAY:
        return local_midnight(local.date().toordinal(), zone)
    # Local minutes and seconds: a zone half an hour off UTC starts its hours on its own clock.
    return at - (local.minute * 60 + local.second + local.microsecond / 1e6) % interval.seconds


def local_midnight(day_ordinal: int, zone: ZoneInfo) -> float:
    """The UTC instant of the local midnight that starts the day (proleptic ordinal)."""
    day = datetime.fromordinal(day_ordinal)
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def bucket_end(start: float, interval: Interval, zone: ZoneInfo) -> float:
    if interval is Interval.DAY:
        return local_midnight(datetime.fromtimestamp(start, zone).date().toordinal() + 1, zone)
    return start + interval.seconds


def day_ordinal(epoch_day: int) -> int:
    """The proleptic ordinal of a day counted from 1970-01-01 (what SQL computes)."""
    return datetime(1970, 1, 1).toordinal() + epoch_day


@dataclass(frozen=True, slots=True)
class OffsetSegment:
    """From `since` (epoch seconds) on, the zone is `offset` seconds ahead of UTC."""

    since: float
    offset: int


def offset_at(at: float, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(at, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_segments(zone: ZoneInfo, start: float, end: float) -> list[OffsetSegment]:
    """The zone's offsets over [start, end), each change found to the second."""
    segments = [OffsetSegment(start, offset_at(start, zone))]
    step = 3600.0
    probe = start
    while probe < end:
        following = min(probe + step, end)
        if offset_at(following, zone) != segments[-1].offset:
            low, high = probe, following  # the offset changes in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(middle, zone) == segments[-1].offset:
                    low = middle
                else:
                    high = middle
            segments.append(OffsetSegment(high, offset_at(high, zone)))
        probe = following
    return segments


def iso(at: float, zone: ZoneInfo) -> str:
    """An instant as local ISO 8601 with its offset, e.g. 2026-03-29T03:00:00+02:00."""
    return datetime.fromtimestamp(at, zone).isoformat()


def utc(at: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=at)
