"""The generated CRD: a valid, structural, documented schema that agrees with the pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml

from ccmesh.configplane.models import ContactCenter
from ccoperator.crd import custom_resource_definition
from ccoperator.testing.crd_validator import validate

REPO = Path(__file__).resolve().parents[2]
BROKEN = sorted((REPO / "tests/data/broken_contactcenters").glob("*.yaml"))
KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]


def example_contactcenters() -> list[Path]:
    return [
        path
        for path in sorted((REPO / "examples").rglob("*.y*ml"))
        if any((doc or {}).get("kind") == "ContactCenter" for doc in yaml.safe_load_all(path.read_text()))
    ]


EXAMPLES = example_contactcenters()


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return custom_resource_definition()


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for name, prop in node.get("properties", {}).items():
            found += walk(prop, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += walk(node["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_crd_is_a_valid_kubernetes_object(crd: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(crd, version, strict=True)


def test_schema_is_structural(crd: dict[str, Any]) -> None:
    for path, node in walk(schema_of(crd)):
        for forbidden in ("$ref", "$defs", "anyOf", "allOf", "oneOf", "const", "title"):
            assert forbidden not in node, f"{path} has {forbidden}"
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            assert "type" in node, f"{path} has no type"
        if "properties" in node:
            assert "additionalProperties" not in node, f"{path} has both properties and additionalProperties"


def test_every_field_has_a_description_for_kubectl_explain(crd: dict[str, Any]) -> None:
    missing = [
        f"{path}.{name}"
        for path, node in walk(schema_of(crd))
        for name, prop in node.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []


def test_defaults_enums_cel_rules_columns_and_status(crd: dict[str, Any]) -> None:
    spec = schema_of(crd)["properties"]["spec"]
    assert spec["properties"]["deletionPolicy"] == {
        **spec["properties"]["deletionPolicy"],
        "default": "Retain",
    }
    assert spec["properties"]["deletionPolicy"]["enum"] == ["Retain", "Delete"]
    assert spec["properties"]["services"]["default"] == {}
    assert spec["properties"]["nats"]["properties"]["serverLabels"]["default"] == {
        "app.kubernetes.io/name": "nats"
    }
    rules = " ".join(r["rule"] for r in spec["x-kubernetes-validations"])
    assert "knownRegions" in rules and "personalDataRegions" in rules
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Region",
        "Ready",
        "Services",
        "Mesh",
        "Age",
    ]


@pytest.mark.skipif(
    not EXAMPLES, reason="examples/ holds no ContactCenter yet (another engineer writes them)"
)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_accepted(crd: dict[str, Any], path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if (document or {}).get("kind") == "ContactCenter":
            assert validate(document, crd) == [], path.name
            ContactCenter.model_validate(document)


def test_a_full_resource_is_accepted(crd: dict[str, Any]) -> None:
    resource = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ContactCenter",
        "metadata": {"name": "eu"},
        "spec": {
            "region": "eu",
            "knownRegions": ["eu", "us", "latam"],
            "tenants": [
                {"id": "acme", "brands": [{"id": "a"}], "residency": {"pseudonymousRegions": ["us"]}}
            ],
            "services": {"routing": {"autoscaling": {"mode": "keda", "minReplicas": 2, "maxReplicas": 9}}},
            "deletionPolicy": "Delete",
            "nats": {"url": "nats://nats.eu:4222", "streamReplicas": 3},
        },
    }
    assert validate(resource, crd) == []


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_resources_are_rejected_by_crd_and_model_alike(crd: dict[str, Any], path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect:").strip()
    document = yaml.safe_load(path.read_text())

    errors = validate(document, crd)
    assert errors, f"the CRD accepted {path.name}"
    assert any(expected in error for error in errors), errors
    with pytest.raises(pydantic.ValidationError):
        ContactCenter.model_validate(document)


def test_broken_set_covers_the_required_kinds_of_mistake() -> None:
    names = {p.stem for p in BROKEN}
    assert {"wrong_type", "unknown_region_in_policy", "missing_required_field"} <= names
