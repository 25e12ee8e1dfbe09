"""The SLO alerts: valid rules, `promtool test rules` (each fires on a bad series, stays quiet on a
normal one), catalogued names only, a runbook section each, shipped by the chart behind a toggle."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helm_python import Chart

from tests.dashboard_queries import CATALOGUED_SERIES, metric_names

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "charts" / "contactcenter" / "alerts" / "contactcenter.rules.yaml"
RULE_TESTS = REPO / "tests" / "alerts" / "contactcenter.rules.test.yaml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="no promtool on this machine: `make prometheus` (tools/install_prometheus.sh) installs Debian's "
    "prometheus, which brings it",
)


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


@needs_promtool
def test_the_rules_are_valid() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_each_alert_fires_on_a_bad_series_and_stays_quiet_on_a_normal_one() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == {rule["alert"] for rule in alerts()}, "every alert has a promtool test"


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alerts_query_catalogued_names_and_link_a_runbook_section(rule: dict) -> None:
    names = metric_names(rule["expr"])
    assert names and names <= CATALOGUED_SERIES, names - CATALOGUED_SERIES
    page, anchor = rule["annotations"]["runbook_url"].split("#")
    assert page == "docs/runbooks.md"
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    assert anchor in headings, f"docs/runbooks.md has no section for {rule['alert']}"


def test_the_chart_ships_the_rules_as_a_prometheus_rule_when_asked() -> None:
    chart = Chart.load(REPO / "charts" / "contactcenter")

    def kinds(values: dict) -> dict[str, dict]:
        files = chart.render(values, name="cc", namespace="platform")
        return {doc["kind"]: doc for text in files.values() for doc in yaml.safe_load_all(text) if doc}

    assert "PrometheusRule" not in kinds({})
    rule = kinds({"prometheusRules": {"create": True, "labels": {"release": "kube-prometheus"}}})[
        "PrometheusRule"
    ]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
