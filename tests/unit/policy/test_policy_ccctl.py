"""`ccctl policy test`: the shipped example rules against the shipped samples, a failed
expectation, and malformed files named without evaluating anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccctl.main import main

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "examples" / "compliance" / "rules.yaml"
SAMPLES = REPO / "examples" / "compliance" / "samples.yaml"


def test_the_example_rules_meet_every_example_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", "-f", str(RULES), "--samples", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 sample(s) as expected" in out
    assert "REFUSE by quiet-nights" in out and "REFUSE by export-by-admins" in out


def test_a_contact_center_document_and_an_unmet_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    center = tmp_path / "cc.yaml"
    center.write_text(
        "kind: ContactCenter\nspec:\n  compliance:\n    rules:\n"
        "      - {name: only-admin, type: exportRole, roles: [admin]}\n"
    )
    samples = tmp_path / "s.yaml"
    samples.write_text(
        "samples:\n  - {name: auditor export, action: export, region: eu, role: auditor, expect: allow}\n"
    )
    assert main(["policy", "test", "-f", str(center), "--samples", str(samples)]) == 1
    out = capsys.readouterr().out
    assert "FAIL auditor export" in out and "REFUSE by only-admin" in out and "(expected allow)" in out
    assert "0 of 1 sample(s) as expected" in out


@pytest.mark.parametrize(
    ("rules", "samples", "named"),
    [
        (
            "rules: [{name: a, type: redaction, colour: red}]",
            "[{name: s, action: export, region: eu}]",
            "rules.0.colour",
        ),
        (
            "rules: []",
            "[{name: s, action: phone, region: eu}]",
            "samples[0] ('s').action: unknown action 'phone'",
        ),
        (
            "rules: []",
            "[{name: s, action: record, region: eu, consent: {}}]",
            "samples[0]: unknown field(s) ['consent']",
        ),
        (
            "rules: []",
            "[{name: s, action: record, region: eu, consents: {rec: true}}]",
            "unknown purpose 'rec'",
        ),
        (
            "rules: []",
            "[{name: s, action: record, region: eu, at: yesterday}]",
            "samples[0] ('s').at: not an ISO",
        ),
        ("rules: []", "[{name: s, action: record}]", "samples[0] ('s').region: required"),
        ("rules: []", "[]", "no samples"),
    ],
)
def test_malformed_files_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str, samples: str, named: str
) -> None:
    (tmp_path / "r.yaml").write_text(rules)
    (tmp_path / "s.yaml").write_text(samples)
    assert (
        main(["policy", "test", "-f", str(tmp_path / "r.yaml"), "--samples", str(tmp_path / "s.yaml")]) == 2
    )
    captured = capsys.readouterr()
    assert named in captured.err
    assert "sample(s) as expected" not in captured.out


def test_without_a_rule_file_a_region_must_be_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC_REGION", raising=False)
    assert main(["policy", "test", "--samples", str(SAMPLES)]) == 1
    assert "name a rule set file (-f) or the region" in capsys.readouterr().err
