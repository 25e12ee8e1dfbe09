"""The ContactCenter's `spec.compliance`: the region's compliance rules, as data.

Each rule is one flat model with a `type` (not a union of models), so the CRD generated from it
stays a Kubernetes structural schema; the fields each type needs are checked here, and a field
the type does not use is refused naming it. `rule_set()` turns the document into the pure
`ccpolicy.RuleSet` the services evaluate at run time.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ccmesh.configplane.base import Model, RegionName, ResourceId
from ccpolicy import (
    Action,
    ConsentRule,
    ExportRoleRule,
    Purpose,
    QuietHoursRule,
    RedactionRule,
    Rule,
    RuleSet,
)

ComplianceRuleType = Literal["consent", "redaction", "quietHours", "exportRole"]
PurposeName = Literal["recording", "transcription", "ai_analysis", "marketing"]
QuietActionName = Literal["outbound_contact", "market"]
RoleName = Literal["admin", "supervisor", "agent", "integration", "auditor"]
_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: The fields each type reads besides name, type and regions.
_FIELDS_OF: dict[str, frozenset[str]] = {
    "consent": frozenset({"purposes"}),
    "redaction": frozenset(),
    "quietHours": frozenset({"start", "end", "timeZone", "actions"}),
    "exportRole": frozenset({"roles"}),
}
_OPTIONAL = frozenset({"start", "end", "timeZone", "actions"})


class ComplianceRule(Model):
    """One rule; the fields a `type` does not use stay unset."""

    name: ResourceId = Field(description="The rule's name: a refusal names it, and so does PolicyViolation.")
    type: ComplianceRuleType = Field(
        description=(
            "`consent`: recording, transcription, AI analysis or marketing (`purposes`) only while the "
            "customer's consent to it stands; `redaction`: events leave the region only with personal "
            "data redacted; `quietHours`: no outbound contact between `start` and `end` in the "
            "customer's time zone (else `timeZone`); `exportRole`: contact exports only by `roles`."
        )
    )
    regions: list[RegionName] = Field(
        default_factory=list, description="Regions the rule applies in; empty: every region."
    )
    purposes: list[PurposeName] = Field(
        default_factory=list, description="`consent`: the purposes that need consent."
    )
    start: str | None = Field(
        default=None, pattern=_CLOCK, description="`quietHours`: start, HH:MM (default 21:00)."
    )
    end: str | None = Field(
        default=None, pattern=_CLOCK, description="`quietHours`: end, HH:MM (default 08:00)."
    )
    time_zone: str | None = Field(
        default=None,
        description="`quietHours`: IANA zone used when the customer's is unknown (default: UTC).",
    )
    actions: list[QuietActionName] = Field(
        default_factory=list,
        description="`quietHours`: actions kept quiet; empty: outbound_contact and market.",
    )
    roles: list[RoleName] = Field(
        default_factory=list, description="`exportRole`: the roles that may export."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: expected an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    @model_validator(mode="after")
    def _fields_of_type(self) -> ComplianceRule:
        used = _FIELDS_OF[self.type]
        set_fields = {
            alias
            for attribute, alias in (
                ("purposes", "purposes"),
                ("start", "start"),
                ("end", "end"),
                ("time_zone", "timeZone"),
                ("actions", "actions"),
                ("roles", "roles"),
            )
            if getattr(self, attribute) not in (None, [])
        }
        stray = sorted(set_fields - used)
        if stray:
            raise ValueError(f"rule {self.name!r} of type {self.type!r} does not use the field(s) {stray}")
        missing = sorted(used - _OPTIONAL - set_fields)
        if missing:
            raise ValueError(f"rule {self.name!r} of type {self.type!r} needs the field(s) {missing}")
        return self

    def rule(self) -> Rule:
        regions = frozenset(self.regions)
        if self.type == "consent":
            return ConsentRule(self.name, regions, frozenset(Purpose(p) for p in self.purposes))
        if self.type == "redaction":
            return RedactionRule(self.name, regions)
        if self.type == "exportRole":
            return ExportRoleRule(self.name, regions, frozenset(self.roles))
        quiet = QuietHoursRule(self.name, regions, default_time_zone=self.time_zone or "UTC")
        return QuietHoursRule(
            self.name,
            regions,
            start=time.fromisoformat(self.start) if self.start else quiet.start,
            end=time.fromisoformat(self.end) if self.end else quiet.end,
            default_time_zone=quiet.default_time_zone,
            actions=frozenset(Action(a) for a in self.actions) if self.actions else quiet.actions,
        )


class ComplianceSettings(Model):
    """The region's compliance rules, checked in order: the first one an action breaks refuses it."""

    version: str = Field(
        default="",
        max_length=64,
        description="A label for this rule set (kept with consent records and violations).",
    )
    rules: list[ComplianceRule] = Field(
        default_factory=list, description="The rules; none: nothing is refused."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> ComplianceSettings:
        names = [r.name for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"compliance rule names must be unique; repeated: {repeated}")
        return self

    @functools.cached_property
    def rule_set(self) -> RuleSet:
        """The pure rule set, built once per document (services ask on every decision)."""
        return RuleSet(tuple(r.rule() for r in self.rules), self.version)
