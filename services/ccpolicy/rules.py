"""The rule kinds and the situation they judge. Each rule answers two questions: does it govern
this action in this region, and if so, does this situation break it (and why)."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from ccpolicy.vocabulary import ACTION_PURPOSE, Action, Purpose


@dataclass(frozen=True)
class Situation:
    """What is known when an action is about to happen."""

    region: str
    #: Purpose -> whether the customer's consent stands now (absent: never given).
    consents: Mapping[str, bool] = field(default_factory=dict)
    #: The role of the person or integration asking (exports).
    role: str = ""
    #: The customer's IANA time zones: one, or every zone their number's country region spans;
    #: () when unknown (a quiet-hours rule then uses its own).
    customer_time_zones: tuple[str, ...] = ()
    #: When the action would happen (UTC); None: now.
    at: datetime | None = None
    #: Whether personal data in the payload was redacted (events leaving the region).
    pii_redacted: bool = False


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True)
class _RuleBase:
    name: str
    #: Regions the rule applies in; empty: every region.
    regions: frozenset[str] = frozenset()

    def in_region(self, region: str) -> bool:
        return not self.regions or region in self.regions


@dataclass(frozen=True)
class ConsentRule(_RuleBase):
    """An action whose purpose is listed happens only while the customer's consent stands."""

    purposes: frozenset[Purpose] = frozenset()

    def governs(self, action: Action) -> bool:
        wanted = ACTION_PURPOSE.get(action)
        return wanted is not None and wanted in self.purposes

    def breach(self, action: Action, situation: Situation) -> str:
        wanted = ACTION_PURPOSE[action]
        if situation.consents.get(wanted.value, False):
            return ""
        return f"{action.value} needs the customer's consent to {wanted.value} in region {situation.region!r}"


@dataclass(frozen=True)
class RedactionRule(_RuleBase):
    """Events leave the region only with personal data redacted."""

    def governs(self, action: Action) -> bool:
        return action is Action.LEAVE_REGION

    def breach(self, action: Action, situation: Situation) -> str:
        if situation.pii_redacted:
            return ""
        return f"events leave region {situation.region!r} only with personal data redacted"


@dataclass(frozen=True)
class QuietHoursRule(_RuleBase):
    """No outbound contact between `start` and `end` in the customer's local time (a window that
    passes midnight, 21:00-08:00, wraps)."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    #: Used when the customer's time zone is unknown.
    default_time_zone: str = "UTC"
    actions: frozenset[Action] = frozenset({Action.OUTBOUND_CONTACT, Action.MARKET})

    def governs(self, action: Action) -> bool:
        return action in self.actions

    def quiet_at(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def breach(self, action: Action, situation: Situation) -> str:
        moment = situation.at or datetime.now(UTC)
        # Where the customer may be in one of several zones, quiet in any of them is quiet.
        for zone_name in situation.customer_time_zones or (self.default_time_zone,):
            local = moment.astimezone(_zone(zone_name))
            if self.quiet_at(local.time().replace(tzinfo=None)):
                return (
                    f"{action.value} refused in quiet hours {self.start:%H:%M}-{self.end:%H:%M}: it is "
                    f"{local:%H:%M} for the customer ({zone_name})"
                )
        return ""


@dataclass(frozen=True)
class ExportRoleRule(_RuleBase):
    """Contact records leave the platform only at the request of one of these roles."""

    roles: frozenset[str] = frozenset({"admin"})

    def governs(self, action: Action) -> bool:
        return action is Action.EXPORT

    def breach(self, action: Action, situation: Situation) -> str:
        if situation.role in self.roles:
            return ""
        role = situation.role or "none"
        return f"export only by the roles {sorted(self.roles)}; the caller's role is {role!r}"


Rule = ConsentRule | RedactionRule | QuietHoursRule | ExportRoleRule


@dataclass(frozen=True)
class RuleSet:
    """A region's rules, in the order they are checked, and the version they were applied as."""

    rules: tuple[Rule, ...] = ()
    version: str = ""

    def governing(self, action: Action, region: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.in_region(region) and r.governs(action))

    def requires_consent(self, action: Action, region: str) -> bool:
        """Whether a consent rule governs the action here: the caller must look consent up."""
        return any(isinstance(r, ConsentRule) for r in self.governing(action, region))


EMPTY = RuleSet()
