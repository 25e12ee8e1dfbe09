"""The time zones a customer may be in, told from their phone number (libphonenumber's data).

A number's country (or area, for large countries) names its zones; a customer whose number
spans several is in any of them, so a quiet-hours rule keeps quiet while any of them is quiet.
"""

from __future__ import annotations

import functools
import zoneinfo

import phonenumbers
from phonenumbers import timezone

_UNKNOWN = "Etc/Unknown"


@functools.lru_cache(maxsize=4096)
def zones_of_number(number: str) -> tuple[str, ...]:
    """IANA zones of an E.164 number; () when the number or its zone cannot be told."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN and z in _known())


@functools.cache
def _known() -> frozenset[str]:
    # A zone libphonenumber names but this system's tz database lacks cannot be judged.
    return frozenset(zoneinfo.available_timezones())
