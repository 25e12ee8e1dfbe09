"""Hours of operation in the queue's own IANA time zone, with holidays and overrides (pure).

Opening windows are wall-clock times in the queue's zone, so "09:00-17:00 Europe/Berlin" stays
09:00-17:00 local across a DST change (the UTC instants move by an hour). Public holidays come
from the `holidays` package for the configured country (and subdivision); an override calendar
can open or close any date. When closed, `closed_action` says what to do: offer a callback, play
a message, or send the contact to another queue (possibly another region's, which overflow
validation checks against the residency policy).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import holidays

from routing.domain.agents import AcdInputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED_ACTIONS = ("callback", "message", "queue")
MAX_CLOSED_MESSAGE = 1000


def parse_zone(name: str, field_name: str = "time_zone") -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AcdInputError(
            field_name, f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'"
        ) from None


def _parse_clock(value: str, field_name: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise AcdInputError(field_name, f"expected HH:MM, got {value!r}") from None


@dataclass(frozen=True)
class Window:
    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str
    #: Day name ("mon".."sun") -> opening windows that day, local time.
    weekly: Mapping[str, tuple[Window, ...]]
    holiday_country: str = ""
    holiday_subdivision: str = ""
    #: ISO date -> windows that replace the weekly ones (empty tuple: closed all day).
    overrides: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)
    closed_action: str = "message"
    closed_target_queue: str = ""
    #: Region of `closed_target_queue` when another region takes the contact ("": this one).
    closed_target_region: str = ""
    #: What the customer is told on their channel when the queue is closed (message or
    #: callback); empty: the platform's default text for the action (see `closed_actions`).
    closed_message: str = ""

    @classmethod
    def parse(
        cls,
        time_zone: str,
        weekly: Mapping[str, list[str]],
        *,
        holiday_country: str = "",
        holiday_subdivision: str = "",
        overrides: Mapping[str, list[str]] | None = None,
        closed_action: str = "message",
        closed_target_queue: str = "",
        closed_target_region: str = "",
        closed_message: str = "",
    ) -> BusinessHours:
        """Build from "HH:MM-HH:MM" strings; errors name the field."""
        parse_zone(time_zone)

        def windows(spans: list[str], where: str) -> tuple[Window, ...]:
            result = []
            for span in spans:
                opens, sep, closes = span.partition("-")
                if not sep:
                    raise AcdInputError(where, f"expected HH:MM-HH:MM, got {span!r}")
                window = Window(_parse_clock(opens, where), _parse_clock(closes, where))
                if window.closes <= window.opens:
                    raise AcdInputError(where, f"window {span!r} closes before it opens")
                result.append(window)
            return tuple(result)

        for day in weekly:
            if day not in DAYS:
                raise AcdInputError(f"hours.weekly.{day}", f"unknown day; one of {list(DAYS)}")
        parsed_overrides: dict[str, tuple[Window, ...]] = {}
        for date, spans in (overrides or {}).items():
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                raise AcdInputError(f"hours.overrides.{date}", "expected an ISO date YYYY-MM-DD") from None
            parsed_overrides[date] = windows(spans, f"hours.overrides.{date}")
        if closed_action not in CLOSED_ACTIONS:
            raise AcdInputError(
                "hours.closed_action", f"one of {list(CLOSED_ACTIONS)}, got {closed_action!r}"
            )
        if closed_action == "queue" and not closed_target_queue:
            raise AcdInputError("hours.closed_target_queue", "required when closed_action is 'queue'")
        if closed_target_region and closed_action != "queue":
            raise AcdInputError("hours.closed_target_region", "only a 'queue' closed action names a region")
        if len(closed_message) > MAX_CLOSED_MESSAGE:
            raise AcdInputError("hours.closed_message", f"at most {MAX_CLOSED_MESSAGE} characters")
        if holiday_country:
            try:
                holidays.country_holidays(holiday_country, subdiv=holiday_subdivision or None)
            except NotImplementedError:
                raise AcdInputError(
                    "hours.holiday_country", f"no holiday calendar for {holiday_country!r}"
                ) from None
        return cls(
            time_zone=time_zone,
            weekly={day: windows(spans, f"hours.weekly.{day}") for day, spans in weekly.items()},
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
            overrides=parsed_overrides,
            closed_action=closed_action,
            closed_target_queue=closed_target_queue,
            closed_target_region=closed_target_region,
            closed_message=closed_message.strip(),
        )

    @cached_property
    def _zone(self) -> zoneinfo.ZoneInfo:
        return parse_zone(self.time_zone)

    def _is_holiday(self, day: dt.date) -> bool:
        if not self.holiday_country:
            return False
        calendar = holidays.country_holidays(
            self.holiday_country, subdiv=self.holiday_subdivision or None, years=day.year
        )
        return day in calendar

    def is_open(self, at: dt.datetime) -> bool:
        """Whether the queue is open at the aware instant `at`."""
        if at.tzinfo is None:
            raise AcdInputError("at", "needs a time zone (an aware datetime)")
        local = at.astimezone(self._zone)
        day = local.date()
        override = self.overrides.get(day.isoformat())
        if override is not None:
            windows = override
        elif self._is_holiday(day):
            return False
        else:
            windows = self.weekly.get(DAYS[day.weekday()], ())
        clock = local.time().replace(tzinfo=None)
        return any(w.opens <= clock < w.closes for w in windows)
