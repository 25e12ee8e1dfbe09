"""AI pipelines in the ContactCenter spec: validated when applied, errors name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter

REPO = Path(__file__).resolve().parents[3]


def document(ai: dict[str, Any]) -> dict[str, Any]:
    source = yaml.safe_load((REPO / "examples/eu.yaml").read_text())
    source["spec"]["ai"] = ai
    return source


def test_the_example_pipelines_validate() -> None:
    (sourced,) = load_file(REPO / "examples/ai/pipelines.yaml")
    assert isinstance(sourced.document, ContactCenter)
    pipelines = sourced.document.spec.ai.pipelines
    assert [p.name for p in pipelines] == ["default", "acme-bank"]
    assert pipelines[1].components[-1].settings == {"orderNumberPattern": r"\bACB-\d{8}\b"}


def test_a_spec_without_ai_gets_no_pipelines_and_the_service_default() -> None:
    source = yaml.safe_load((REPO / "examples/eu.yaml").read_text())
    assert ContactCenter.model_validate(source).spec.ai.pipelines == []


@pytest.mark.parametrize(
    ("ai", "problem"),
    [
        ({"pipelines": [{"name": "p", "components": []}]}, "at least 1 item"),
        ({"pipelines": [{"name": "p", "components": [{"name": "Bad Name"}]}]}, "should match pattern"),
        (
            {"pipelines": [{"name": "p", "components": [{"name": "pii"}, {"name": "pii"}]}]},
            "lists component(s) ['pii'] more than once",
        ),
        (
            {
                "pipelines": [
                    {"name": "p", "components": [{"name": "pii", "settings": {"orderNumberPattern": "("}}]}
                ]
            },
            "setting 'orderNumberPattern' is not a valid regular expression",
        ),
        (
            {"pipelines": [{"name": "p", "tenant": "nobody", "components": [{"name": "pii"}]}]},
            "unknown tenant 'nobody'",
        ),
        (
            {"pipelines": [{"name": "p", "tenant": "acme", "brand": "zz", "components": [{"name": "pii"}]}]},
            "brand 'zz', which tenant 'acme' does not have",
        ),
        (
            {
                "pipelines": [
                    {"name": "a", "tenant": "acme", "components": [{"name": "pii"}]},
                    {"name": "b", "tenant": "acme", "components": [{"name": "language"}]},
                ]
            },
            "several AI pipelines serve the same tenant/brand",
        ),
        (
            {"pipelines": [{"name": "p", "components": [{"name": "pii", "settings": {"x": 1}}]}]},
            "valid string",
        ),
    ],
)
def test_bad_pipelines_are_refused_naming_the_problem(ai: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ContactCenter.model_validate(document(ai))
    assert problem in str(caught.value)
