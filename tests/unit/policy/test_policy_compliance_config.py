"""`spec.compliance` of the ContactCenter: checked on apply, naming what is wrong."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ccmesh.configplane.compliance import ComplianceSettings
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.policy_violations import rules_of
from ccpolicy import Action, ConsentRule, QuietHoursRule, Situation, evaluate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "eu.yaml"


def _center(compliance: dict[str, Any]) -> ContactCenter:
    for document in yaml.safe_load_all(EXAMPLE.read_text()):
        if document and document.get("kind") == "ContactCenter":
            document["spec"]["compliance"] = compliance
            return ContactCenter.model_validate(document)
    raise AssertionError("the example has a ContactCenter")


def test_a_rule_set_becomes_the_pure_rules_the_services_evaluate() -> None:
    center = _center(
        {
            "version": "v3",
            "rules": [
                {"name": "eu-call-consent", "type": "consent", "regions": ["eu"], "purposes": ["recording"]},
                {"name": "quiet", "type": "quietHours", "start": "22:00", "timeZone": "Europe/Berlin"},
                {"name": "export", "type": "exportRole", "roles": ["admin"]},
                {"name": "redact", "type": "redaction"},
            ],
        }
    )
    rules = rules_of(center)
    assert rules.version == "v3"
    consent, quiet = rules.rules[0], rules.rules[1]
    assert isinstance(consent, ConsentRule) and consent.regions == {"eu"}
    assert isinstance(quiet, QuietHoursRule)
    assert (quiet.start, quiet.end, quiet.default_time_zone) == (time(22), time(8), "Europe/Berlin")
    assert not evaluate(rules, Action.RECORD, Situation(region="eu")).allowed
    assert rules_of(center) is rules, "built once per document"
    assert rules_of(None).rules == ()


@pytest.mark.parametrize(
    ("compliance", "named"),
    [
        (
            {"rules": [{"name": "x", "type": "consent", "purposes": ["recording"], "purpose": "r"}]},
            "rules.0.purpose",
        ),
        ({"rulez": []}, "rulez"),
        ({"rules": [{"name": "x", "type": "consent"}]}, "needs the field(s) ['purposes']"),
        (
            {"rules": [{"name": "x", "type": "redaction", "roles": ["admin"]}]},
            "does not use the field(s) ['roles']",
        ),
        ({"rules": [{"name": "x", "type": "consent", "purposes": ["dancing"]}]}, "rules.0.purposes.0"),
        ({"rules": [{"name": "x", "type": "quietHours", "start": "25:00"}]}, "rules.0.start"),
        (
            {"rules": [{"name": "x", "type": "quietHours", "timeZone": "Mars/Base"}]},
            "unknown time zone 'Mars/Base'",
        ),
        ({"rules": [{"name": "x", "type": "nope"}]}, "rules.0.type"),
        (
            {"rules": [{"name": "a", "type": "redaction"}, {"name": "a", "type": "redaction"}]},
            "compliance rule names must be unique; repeated: ['a']",
        ),
    ],
)
def test_a_bad_rule_set_is_refused_naming_the_field(compliance: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ComplianceSettings.model_validate(compliance)
    assert named in str(raised.value)


def test_an_unknown_field_is_refused_in_the_whole_contact_center_too() -> None:
    with pytest.raises(ValidationError) as raised:
        _center({"rules": [{"name": "x", "type": "redaction", "region": "eu"}]})
    assert "spec.compliance.rules.0.region" in str(raised.value)
