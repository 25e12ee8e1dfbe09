"""`ccctl flow render|test|diff` on files (no server), and the published JSON Schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import orjson
import pytest
import yaml

from ccctl.main import main
from ccflow.schema import schema_text

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows"
SUPPORT = EXAMPLES / "support"


def test_published_schema_is_up_to_date() -> None:
    assert (EXAMPLES / "flow.schema.json").read_text() == schema_text(), (
        "regenerate: python -m ccflow.schema > examples/flows/flow.schema.json"
    )


def test_every_example_document_validates_against_the_published_schema() -> None:
    schema = orjson.loads((EXAMPLES / "flow.schema.json").read_bytes())
    documents = [
        d
        for p in sorted(EXAMPLES.rglob("*.yaml"))
        if "scenarios" not in p.parts
        for d in yaml.safe_load_all(p.read_text())
    ]
    assert len(documents) >= 8
    for document in documents:
        jsonschema.validate(document, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**documents[0], "kind": "Flw"}, schema)


def test_flow_test_passes_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = [str(p) for p in sorted((EXAMPLES / "scenarios").glob("*.yaml"))]
    assert main(["flow", "test", str(SUPPORT), *scenarios]) == 0
    out = capsys.readouterr().out
    assert "22 passed, 0 failed" in out


def test_flow_test_exits_non_zero_on_a_failing_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "latam.yaml"
    broken.write_text(
        (EXAMPLES / "scenarios" / "latam.yaml")
        .read_text()
        .replace("queue: latam-overflow}", "queue: latam-support}", 1)
    )
    assert main(["flow", "test", str(SUPPORT), str(broken), "-q"]) == 1
    out = capsys.readouterr().out
    assert "FAIL latam.yaml: latam busy period overflows to the partner queue" in out
    assert "outcome.queue is 'latam-overflow', expected 'latam-support'" in out
    assert "4 passed, 1 failed" in out


def test_flow_test_rejects_a_bad_flow_naming_file_and_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "support"
    for source in SUPPORT.rglob("*.yaml"):
        target = tree / source.relative_to(SUPPORT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    latam = tree / "overlays" / "latam.yaml"
    latam.write_text(latam.read_text().replace("queue: latam-overflow", "queue: latam-overflow-2"))
    assert main(["flow", "test", str(tree), str(EXAMPLES / "scenarios" / "latam.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{latam}: node 'latam-overflow': unknown queue 'latam-overflow-2'" in err


def test_flow_render_prints_the_effective_flow_and_its_diff(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "render", str(SUPPORT), "--region", "eu"]) == 0
    rendered = capsys.readouterr().out
    assert "overlays applied: eu" in rendered
    document = yaml.safe_load(rendered)
    assert document["spec"]["timeZone"] == "Europe/Berlin"
    assert main(["flow", "render", str(SUPPORT), "--region", "us", "--diff"]) == 0
    diff = capsys.readouterr().out.splitlines()
    assert "~ node before-queue: next: set-priority -> us-hours" in diff
    assert "~ node to-queue: queue: general-support -> us-support" in diff
    assert not [line for line in diff if "eu-" in line or "latam-" in line]


def test_flow_diff_of_two_trees_shows_exactly_the_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "v2"
    for source in SUPPORT.rglob("*.yaml"):
        target = tree / source.relative_to(SUPPORT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    base = tree / "support.yaml"
    base.write_text(base.read_text().replace("priority: 90", "priority: 95"))
    assert main(["flow", "diff", str(SUPPORT), str(tree), "--region", "eu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = lines[: lines.index("# rendered YAML:")]
    assert [line for line in summary if not line.startswith("#")] == [
        "~ node fraud-queue: priority: 90 -> 95"
    ]
    assert "-    priority: 90" in lines and "+    priority: 95" in lines
