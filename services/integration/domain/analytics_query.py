"""Report parameters as callers give them (text), checked into a `ReportQuery` (pure).

Every refusal names the parameter and says what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integration.domain.analytics_metrics import Dimension, QueueTarget, ReportQuery
from integration.domain.analytics_time import Interval

#: The longest period one report covers, and the most intervals it may have.
MAX_PERIOD_DAYS = 400
MAX_INTERVALS = 20_000
MAX_FCR_DAYS = 90

E = TypeVar("E", Interval, Dimension)


class ReportError(ValueError):
    """A bad report parameter; the message names it."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter


def _instant(parameter: str, text: str, zone: ZoneInfo) -> float:
    if not text:
        raise ReportError(parameter, "required, an ISO 8601 date or date-time (e.g. 2026-03-29)")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(parameter, f"not an ISO 8601 date or date-time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # a wall-clock time of the report's zone
    return moment.timestamp()


def _choice(parameter: str, text: str, kind: type[E]) -> E:
    try:
        return kind(text)
    except ValueError:
        accepted = ", ".join(item.value for item in kind)
        raise ReportError(parameter, f"unknown {text!r}; one of {accepted}") from None


def parse_report_query(
    *,
    tenant_id: str,
    start: str,
    end: str,
    interval: str = "hour",
    group_by: str = "",
    time_zone: str = "UTC",
    service_level_seconds: float | None = None,
    fcr_days: int = 7,
    brands: frozenset[str] = frozenset(),
    queue_targets: Mapping[str, QueueTarget] | None = None,
) -> ReportQuery:
    """`service_level_seconds` None: each queue's target from `queue_targets`."""
    if not tenant_id:
        raise ReportError("tenant_id", "required")
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(
            "time_zone", f"unknown time zone {time_zone!r}; an IANA name such as Europe/Berlin"
        ) from None
    checked_interval = _choice("interval", interval or "hour", Interval)
    dimension = _choice("group_by", group_by, Dimension) if group_by else None
    first = _instant("start", start, zone)
    last = _instant("end", end, zone)
    if last <= first:
        raise ReportError("end", f"must be after start ({end!r} <= {start!r})")
    if last - first > MAX_PERIOD_DAYS * 86_400:
        raise ReportError("end", f"the period may cover at most {MAX_PERIOD_DAYS} days")
    if (last - first) / checked_interval.seconds > MAX_INTERVALS:
        raise ReportError(
            "interval", f"{checked_interval.value} over this period gives more than {MAX_INTERVALS} intervals"
        )
    if service_level_seconds is not None and not 0 < service_level_seconds <= 3600:
        raise ReportError("service_level_seconds", f"must be > 0 and <= 3600, got {service_level_seconds}")
    if not 0 < fcr_days <= MAX_FCR_DAYS:
        raise ReportError("fcr_days", f"must be between 1 and {MAX_FCR_DAYS}, got {fcr_days}")
    return ReportQuery(
        tenant_id=tenant_id,
        start=first,
        end=last,
        interval=checked_interval,
        group_by=dimension,
        zone=zone,
        service_level_seconds=service_level_seconds,
        fcr_days=fcr_days,
        brands=brands,
        queue_targets=dict(queue_targets or {}),
    )
