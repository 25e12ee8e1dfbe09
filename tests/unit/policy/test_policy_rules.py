"""Each rule kind of ccpolicy allows and refuses the right situations, naming itself."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from ccpolicy import (
    Action,
    ConsentRule,
    ExportRoleRule,
    Purpose,
    QuietHoursRule,
    RedactionRule,
    RuleSet,
    Situation,
    evaluate,
    evaluate_all,
)
from ccpolicy.time_zones import zones_of_number
from ccpolicy.vocabulary import UnknownNameError, action, purpose

EU_CONSENT = ConsentRule(
    "eu-call-consent", frozenset({"eu"}), frozenset({Purpose.RECORDING, Purpose.TRANSCRIPTION})
)
RULES = RuleSet(
    (
        EU_CONSENT,
        RedactionRule("redact-leaving", frozenset({"eu"})),
        QuietHoursRule("quiet-nights", start=time(21), end=time(8), default_time_zone="Europe/Berlin"),
        ExportRoleRule("export-admins", roles=frozenset({"admin", "auditor"})),
    ),
    version="2026-12",
)


@pytest.mark.parametrize(
    ("act", "situation", "refused_by"),
    [
        # Consent: in eu, recording and transcription need the customer's consent to that purpose.
        (Action.RECORD, Situation(region="eu"), "eu-call-consent"),
        (Action.TRANSCRIBE, Situation(region="eu", consents={"recording": True}), "eu-call-consent"),
        (Action.TRANSCRIBE, Situation(region="eu", consents={"transcription": False}), "eu-call-consent"),
        (Action.TRANSCRIBE, Situation(region="eu", consents={"transcription": True}), ""),
        (Action.RECORD, Situation(region="eu", consents={"recording": True}), ""),
        # Outside the rule's regions, or a purpose the rule does not list: allowed.
        (Action.RECORD, Situation(region="us"), ""),
        (Action.ANALYSE, Situation(region="eu"), ""),
        # Redaction: events leave eu only redacted; other regions are not governed.
        (Action.LEAVE_REGION, Situation(region="eu"), "redact-leaving"),
        (Action.LEAVE_REGION, Situation(region="eu", pii_redacted=True), ""),
        (Action.LEAVE_REGION, Situation(region="us"), ""),
        # Exports only by the listed roles.
        (Action.EXPORT, Situation(region="eu", role="agent"), "export-admins"),
        (Action.EXPORT, Situation(region="eu"), "export-admins"),
        (Action.EXPORT, Situation(region="eu", role="auditor"), ""),
    ],
)
def test_each_rule_allows_and_refuses_the_right_situations(
    act: Action, situation: Situation, refused_by: str
) -> None:
    decision = evaluate(RULES, act, situation)
    assert decision.allowed is (not refused_by)
    assert decision.rule == refused_by
    if refused_by:
        assert decision.message().startswith(f"refused by compliance rule {refused_by!r}: ")


@pytest.mark.parametrize(
    ("utc", "zone", "quiet"),
    [
        # 21:30 in Berlin (winter, UTC+1) is quiet; 20:59 is not; 07:59 is; 08:00 is not.
        (datetime(2026, 1, 5, 20, 30, tzinfo=UTC), "Europe/Berlin", True),
        (datetime(2026, 1, 5, 19, 59, tzinfo=UTC), "Europe/Berlin", False),
        (datetime(2026, 1, 5, 6, 59, tzinfo=UTC), "Europe/Berlin", True),
        (datetime(2026, 1, 5, 7, 0, tzinfo=UTC), "Europe/Berlin", False),
        # The customer's own zone decides: 20:30 UTC is 15:30 in New York, day time there.
        (datetime(2026, 1, 5, 20, 30, tzinfo=UTC), "America/New_York", False),
        # Summer time: 19:30 UTC is 21:30 in Berlin (UTC+2).
        (datetime(2026, 7, 6, 19, 30, tzinfo=UTC), "Europe/Berlin", True),
    ],
)
def test_quiet_hours_follow_the_customers_time_zone(utc: datetime, zone: str, quiet: bool) -> None:
    decision = evaluate(
        RULES, Action.OUTBOUND_CONTACT, Situation(region="eu", customer_time_zones=(zone,), at=utc)
    )
    assert decision.allowed is not quiet
    if quiet:
        assert decision.rule == "quiet-nights"
        assert zone in decision.reason


def test_quiet_hours_without_a_customer_zone_use_the_rules_own() -> None:
    at = datetime(2026, 1, 5, 21, 30, tzinfo=UTC)  # 22:30 in Berlin, 21:30 in UTC
    assert not evaluate(RULES, Action.MARKET, Situation(region="us", at=at)).allowed
    daytime = QuietHoursRule("day-window", start=time(9), end=time(17))
    assert daytime.quiet_at(time(12)) and not daytime.quiet_at(time(17)) and not daytime.quiet_at(time(8))


def test_the_first_breaking_rule_refuses_and_evaluate_all_shows_each_verdict() -> None:
    strict = RuleSet(
        (ExportRoleRule("only-admin"), ExportRoleRule("also-auditor", roles=frozenset({"auditor"})))
    )
    assert evaluate(strict, Action.EXPORT, Situation(region="eu", role="auditor")).rule == "only-admin"
    verdicts = evaluate_all(strict, Action.EXPORT, Situation(region="eu", role="admin"))
    assert [(v.rule, v.allowed) for v in verdicts] == [("only-admin", True), ("also-auditor", False)]


def test_requires_consent_tells_whether_a_lookup_is_needed() -> None:
    assert RULES.requires_consent(Action.TRANSCRIBE, "eu")
    assert not RULES.requires_consent(Action.TRANSCRIBE, "us")
    assert not RULES.requires_consent(Action.EXPORT, "eu")
    assert evaluate(RuleSet(), Action.RECORD, Situation(region="eu")).allowed


def test_unknown_purposes_and_actions_are_named() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown purpose 'recordings'.*'recording'"):
        purpose("recordings")
    with pytest.raises(UnknownNameError, match=r"sample\.action: unknown action 'call'"):
        action("call", "sample.action")


def test_a_customer_whose_number_spans_several_zones_is_quiet_if_any_zone_is() -> None:
    at = datetime(2026, 1, 5, 4, 30, tzinfo=UTC)  # 20:30 in Los Angeles, 23:30 in New York
    rule = RuleSet((QuietHoursRule("quiet", start=time(21), end=time(8)),))
    west = Situation(region="us", customer_time_zones=("America/Los_Angeles",), at=at)
    assert evaluate(rule, Action.OUTBOUND_CONTACT, west).allowed
    both = Situation(region="us", customer_time_zones=("America/Los_Angeles", "America/New_York"), at=at)
    decision = evaluate(rule, Action.OUTBOUND_CONTACT, both)
    assert not decision.allowed and "America/New_York" in decision.reason


def test_time_zones_are_told_from_the_phone_number() -> None:
    assert zones_of_number("+4930555111") == ("Europe/Berlin",)
    assert zones_of_number("+14155550100") == ("America/Los_Angeles",)
    assert zones_of_number("+447700900001") == ()  # a drama number: no zone known
    assert zones_of_number("not a number") == ()
