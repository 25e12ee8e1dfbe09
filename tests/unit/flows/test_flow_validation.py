"""Bad flows are rejected with an error naming the file, the node and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccflow.errors import FlowError
from ccflow.loader import bundle_from_sources, parse_text
from ccflow.overlays import validate_bundle

CATALOG = """
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: test}
spec:
  queues: [sales]
  prompts: [hello, ask]
  aiComponents: [intent-classifier]
  integrations: [crm]
"""

FLOW = """
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: mini}
spec:
  start: hello
  nodes:
    - id: hello
      kind: message
      prompt: hello
      next: ask
    - id: ask
      kind: collect
      prompt: ask
      store: answer
      valid: size(input) > 0
      next: classify
      onFailure: bye
    - id: classify
      kind: ai
      component: intent-classifier
      task: intent
      next: check
      onFailure: bye
    - id: check
      kind: condition
      branches:
        - when: intent == "buy"
          next: to-sales
      default: bye
    - id: to-sales
      kind: queue
      queue: sales
    - id: bye
      kind: end
"""


def publish(flow_text: str) -> None:
    validate_bundle(bundle_from_sources([("catalog.yaml", CATALOG), ("mini.yaml", flow_text)]))


def test_the_good_flow_is_accepted() -> None:
    publish(FLOW)


@pytest.mark.parametrize(
    ("old", "new", "node", "problem"),
    [
        pytest.param(
            "next: check", "next: nowhere", "classify", "refers to unknown node 'nowhere'", id="unknown-node"
        ),
        pytest.param(
            "queue: sales", "queue: support", "to-sales", "unknown queue 'support'", id="unknown-queue"
        ),
        pytest.param(
            "component: intent-classifier",
            "component: gpt-x",
            "classify",
            "unknown AI component 'gpt-x'",
            id="unknown-ai-component",
        ),
        pytest.param("prompt: ask", "prompt: nope", "ask", "unknown prompt 'nope'", id="unknown-prompt"),
        pytest.param(
            "kind: end\n",
            "kind: end\n    - {id: $continue, kind: end}\n",
            "$continue",
            "not a node id",
            id="continue",
        ),
        pytest.param(
            "kind: end\n",
            "kind: end\n    - {id: bye, kind: end}\n",
            "bye",
            "duplicate node id",
            id="duplicate",
        ),
        pytest.param(
            'when: intent == "buy"', 'when: intent == "buy" &&', "check", "does not compile", id="cel-syntax"
        ),
        pytest.param(
            'when: intent == "buy"',
            "when: intent",
            "check",
            "yields string, expected bool",
            id="cel-not-bool",
        ),
        pytest.param(
            'when: intent == "buy"', 'when: priority + "x" == 1', "check", "has the wrong type", id="cel-type"
        ),
        pytest.param(
            'when: intent == "buy"',
            "when: shoe_size > 3",
            "check",
            "unknown name 'shoe_size'",
            id="cel-unknown-name",
        ),
        pytest.param(
            "valid: size(input) > 0",
            "valid: size(input)",
            "ask",
            "yields int, expected bool",
            id="cel-valid-int",
        ),
    ],
)
def test_bad_flows_are_rejected_naming_file_node_and_problem(
    old: str, new: str, node: str, problem: str
) -> None:
    assert old in FLOW
    with pytest.raises(FlowError) as caught:
        publish(FLOW.replace(old, new, 1))
    (found,) = [p for p in caught.value.problems if p.node == node]
    assert found.file == "mini.yaml"
    assert problem in found.message
    assert f"mini.yaml: node {node!r}: " in str(caught.value)


def test_a_cycle_with_no_exit_is_rejected_naming_its_nodes() -> None:
    looping = FLOW.replace("onFailure: bye\n    - id: check", "onFailure: hello\n    - id: check")
    looping = looping.replace(
        "next: classify\n      onFailure: bye", "next: classify\n      onFailure: hello"
    )
    looping = looping.replace("default: bye", "default: hello").replace("next: to-sales", "next: hello")
    with pytest.raises(FlowError) as caught:
        publish(looping)
    trapped = {p.node for p in caught.value.problems}
    assert trapped == {"hello", "ask", "classify", "check"}
    assert all("cycle with no exit" in p.message and p.file == "mini.yaml" for p in caught.value.problems)


@pytest.mark.parametrize(
    ("old", "new", "node", "problem"),
    [
        pytest.param("kind: collect", "kind: ask-nicely", "ask", "kind", id="unknown-kind"),
        pytest.param("      store: answer\n", "", "ask", "store: Field required", id="missing-field"),
        pytest.param(
            "      store: answer\n", "      store: answer\n      colour: red\n", "ask", "colour", id="extra"
        ),
        pytest.param(
            "id: to-sales", "id: To Sales", "To Sales", "id: String should match pattern", id="bad-id"
        ),
    ],
)
def test_schema_violations_name_file_node_and_field(old: str, new: str, node: str, problem: str) -> None:
    with pytest.raises(FlowError) as caught:
        publish(FLOW.replace(old, new, 1))
    messages = [(p.file, p.node, p.message) for p in caught.value.problems]
    assert any(f == "mini.yaml" and n == node and problem in m for f, n, m in messages), messages


def test_not_yaml_names_the_file_and_line() -> None:
    with pytest.raises(FlowError, match=r"mini.yaml: line \d+: not valid YAML"):
        publish(FLOW + "\n  - : [unclosed\n")


def test_an_overlay_problem_names_the_overlay_file() -> None:
    overlay = """
apiVersion: contactcenter.dev/v1alpha1
kind: FlowOverlay
metadata: {name: eu}
spec:
  flow: mini
  match: {region: eu}
  insert:
    - at: hello
      nodes:
        - {id: notice, kind: message, prompt: hello, next: $continue}
  replace:
    - {id: ghost, kind: end}
"""
    with pytest.raises(FlowError) as caught:
        validate_bundle(
            bundle_from_sources(
                [("catalog.yaml", CATALOG), ("mini.yaml", FLOW), ("overlays/eu.yaml", overlay)]
            )
        )
    assert [str(p) for p in caught.value.problems] == [
        "overlays/eu.yaml: node 'ghost': replace: the base flow has no node with this id",
        "overlays/eu.yaml: node 'hello': insert: the insertion point is a message node, not a point",
    ]


def test_schema_errors_inside_an_overlay_name_the_inserted_node_and_field_path() -> None:
    source = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support" / "overlays" / "eu.yaml"
    text = (
        source.read_text().replace("retries: 1", "retries: many").replace("when: sentiment < -0.5", "whn: x")
    )
    with pytest.raises(FlowError) as caught:
        parse_text(text, "overlays/eu.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "overlays/eu.yaml: node 'eu-unhappy': branches[0].when: Field required",
        "overlays/eu.yaml: node 'eu-unhappy': branches[0].whn: Extra inputs are not permitted",
        "overlays/eu.yaml: node 'eu-offer': retries: Input should be a valid integer, "
        "unable to parse string as an integer",
    ]
