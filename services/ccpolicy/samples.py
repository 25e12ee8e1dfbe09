"""Sample contacts for trying a rule set (`ccctl policy test`): parsed from plain data, checked.

A sample names an action and the situation it happens in, and optionally what should happen:

    - name: night call-back in Berlin
      action: outbound_contact
      region: eu
      timeZone: Europe/Berlin
      at: "2026-01-05T21:30:00+01:00"
      expect: refuse          # or allow
      expectRule: quiet-nights

Fields: name, action, region (required); consents (purpose -> bool), role, timeZone, at,
piiRedacted, expect, expectRule. An unknown field, purpose or action is refused, named.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ccpolicy.evaluate import Decision, evaluate
from ccpolicy.rules import RuleSet, Situation
from ccpolicy.vocabulary import Action, action, purpose

_FIELDS = frozenset(
    {"name", "action", "region", "consents", "role", "timeZone", "at", "piiRedacted", "expect", "expectRule"}
)


class SampleError(ValueError):
    """A malformed sample; the text names the sample and the field."""


@dataclass(frozen=True)
class Sample:
    name: str
    action: Action
    situation: Situation
    #: "allow", "refuse" or "" (no expectation).
    expect: str = ""
    expect_rule: str = ""


@dataclass(frozen=True)
class Outcome:
    sample: Sample
    decision: Decision

    @property
    def as_expected(self) -> bool:
        expect = self.sample.expect
        if expect and (expect == "allow") != self.decision.allowed:
            return False
        return not self.sample.expect_rule or self.sample.expect_rule == self.decision.rule


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise SampleError(f"{where}.{key}: must be text")
    if required and not value:
        raise SampleError(f"{where}.{key}: required")
    return value


def parse_sample(raw: Any, where: str) -> Sample:
    if not isinstance(raw, Mapping):
        raise SampleError(f"{where}: must be a mapping of fields")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise SampleError(f"{where}: unknown field(s) {unknown}; known: {sorted(_FIELDS)}")
    name = _text(raw, "name", where, required=True)
    where = f"{where} ({name!r})"
    try:
        act = action(_text(raw, "action", where, required=True), f"{where}.action")
        consents_raw = raw.get("consents", {})
        if not isinstance(consents_raw, Mapping):
            raise SampleError(f"{where}.consents: a mapping of purpose to true/false")
        consents: dict[str, bool] = {}
        for key, given in consents_raw.items():
            if not isinstance(given, bool):
                raise SampleError(f"{where}.consents.{key}: true or false")
            consents[purpose(str(key), f"{where}.consents").value] = given
    except ValueError as error:
        raise SampleError(str(error)) from None
    zone = _text(raw, "timeZone", where)
    if zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SampleError(f"{where}.timeZone: unknown time zone {zone!r}") from None
    at = _moment(raw.get("at"), where)
    redacted = raw.get("piiRedacted", False)
    if not isinstance(redacted, bool):
        raise SampleError(f"{where}.piiRedacted: true or false")
    expect = _text(raw, "expect", where)
    if expect not in ("", "allow", "refuse"):
        raise SampleError(f"{where}.expect: 'allow' or 'refuse', not {expect!r}")
    return Sample(
        name=name,
        action=act,
        situation=Situation(
            region=_text(raw, "region", where, required=True),
            consents=consents,
            role=_text(raw, "role", where),
            customer_time_zones=(zone,) if zone else (),
            at=at,
            pii_redacted=redacted,
        ),
        expect=expect,
        expect_rule=_text(raw, "expectRule", where),
    )


def _moment(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise SampleError(f"{where}.at: not an ISO 8601 time: {value!r}") from None
    else:
        raise SampleError(f"{where}.at: an ISO 8601 time such as 2026-01-05T21:30:00+01:00")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_samples(raw: Any) -> list[Sample]:
    """A list of samples, or a mapping with a `samples` list."""
    if isinstance(raw, Mapping):
        unknown = sorted(set(raw) - {"samples"})
        if unknown:
            raise SampleError(f"unknown field(s) {unknown}; expected a list of samples or 'samples:'")
        raw = raw.get("samples")
    if not isinstance(raw, list) or not raw:
        raise SampleError("no samples: expected a non-empty list")
    return [parse_sample(item, f"samples[{index}]") for index, item in enumerate(raw)]


def run(rules: RuleSet, samples: list[Sample]) -> list[Outcome]:
    return [Outcome(s, evaluate(rules, s.action, s.situation)) for s in samples]
