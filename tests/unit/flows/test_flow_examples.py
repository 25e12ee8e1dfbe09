"""The example flows (four regional styles, two brands on one base) pass their scenario files,
and the effective flows differ exactly where the overlays say."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccflow.diff import diff_flows
from ccflow.loader import load_paths
from ccflow.overlays import render, validate_bundle
from ccflow.simulator import Simulator, load_scenarios

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows"
SCENARIO_FILES = sorted((EXAMPLES / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def bundle():  # type: ignore[no-untyped-def]
    loaded = load_paths([EXAMPLES / "support"])
    validate_bundle(loaded)
    return loaded


def test_there_is_a_scenario_file_per_regional_style_and_for_the_brands() -> None:
    assert {p.stem for p in SCENARIO_FILES} == {"eu", "ap-southeast", "us", "latam", "brands"}


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_example_scenarios_pass(bundle, path: Path) -> None:  # type: ignore[no-untyped-def]
    scenarios = load_scenarios(path.read_text(), str(path))
    results = Simulator(bundle).run(scenarios)
    assert len(results) >= 3
    failed = {r.name: r.failures for r in results if not r.passed}
    assert failed == {}


def test_a_wrong_expectation_fails_the_scenario(bundle) -> None:  # type: ignore[no-untyped-def]
    text = (
        (EXAMPLES / "scenarios" / "eu.yaml").read_text().replace("self-service-resolved", "something-else", 1)
    )
    results = Simulator(bundle).run(load_scenarios(text, "eu.yaml"))
    assert not results[0].passed
    assert "outcome.outcome is 'self-service-resolved', expected 'something-else'" in results[0].failures


@pytest.mark.parametrize(
    ("context", "queue", "first_regional_node"),
    [
        ({"region": "eu"}, "eu-support", "eu-unhappy"),
        ({"region": "us"}, "us-support", "us-hours"),
        ({"region": "latam"}, "latam-support", "latam-load"),
        ({"region": "ap-southeast"}, "general-support", "apse-channel"),
    ],
)
def test_each_region_gets_its_own_effective_flow(bundle, context, queue, first_regional_node) -> None:  # type: ignore[no-untyped-def]
    flow, applied = render(bundle, "support", context)
    assert applied == [context["region"]]
    nodes = {n.id: n for n in flow.spec.nodes}
    assert first_regional_node in nodes
    assert nodes["to-queue"].queue == queue  # type: ignore[union-attr]
    others = {"eu-unhappy", "us-hours", "latam-load", "apse-channel"} - {first_regional_node}
    assert not others & set(nodes)


def test_two_brands_share_the_base_and_differ_only_in_their_overlays(bundle) -> None:  # type: ignore[no-untyped-def]
    bank, _ = render(bundle, "support", {"brand": "acme-bank"})
    retail, _ = render(bundle, "support", {"brand": "acme-retail"})
    assert diff_flows(bank, retail) == [
        "~ node welcome: prompt: bank-welcome -> retail-welcome",
        "~ node account-ready: next: bank-pin -> retail-line",
        "- node bank-pin (collect)",
        "- node bank-verified (set)",
        "- node bank-not-verified (end)",
        "+ node retail-line (set): {attributes: {line: retail}, compute: {open_orders: "
        "'has(attributes.account) && has(attributes.account.open_orders) ? attributes.account.open_orders "
        ": 0'}, next: self-service}",
    ]


def test_the_whole_examples_tree_loads_and_its_policy_reaches_only_matching_contacts() -> None:
    tree = load_paths([EXAMPLES])  # flows, overlays, the policy; scenario files and the schema are skipped
    validate_bundle(tree)
    assert [p.metadata.name for p in tree.policy_documents()] == ["surge"]
    results = {
        r.name: r for f in SCENARIO_FILES for r in Simulator(tree).run(load_scenarios(f.read_text(), str(f)))
    }
    assert all(r.passed for r in results.values())
    assert "surge-notice" in results["latam busy period overflows to the partner queue"].prompts
    assert "surge-notice" not in results["us long wait is outside the SLA"].prompts
