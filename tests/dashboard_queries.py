"""The PromQL of the shipped Grafana dashboards, and the metric catalogue (tools/metric_catalogue.py)
that dashboards and alerts must stay within."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "charts" / "contactcenter" / "dashboards").glob("*.json"))
RULES = ROOT / "charts" / "contactcenter" / "alerts" / "contactcenter.rules.yaml"
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    title: str
    expr: str

    def with_region(self, region: str) -> str:
        """The expression as Grafana sends it with the dashboard's `$region` variable chosen."""
        return self.expr.replace("$region", region)


def panel_queries() -> list[PanelQuery]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append(PanelQuery(path.name, panel["title"], target["expr"]))
    return found


def variable_metrics() -> list[tuple[str, str, str]]:
    """(dashboard, variable, metric) of each `label_values(metric, label)` template variable."""
    found = []
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text()).get("templating", {}).get("list", []):
            match = re.fullmatch(r"label_values\(\s*([^,)]+?)\s*,\s*\w+\s*\)", variable.get("query", ""))
            if variable.get("type") == "query" and match:
                found.append((path.name, variable["name"], match.group(1)))
    return found


@dataclass(frozen=True)
class AlertQuery:
    alert: str
    expr: str

    @property
    def signal(self) -> str:
        """The expression with every comparison made a `bool` one: it returns the measured series
        (as 0 or 1) whether or not the alert's condition holds, so "returns data" checks that
        the alert watches real series, not that it fires."""
        return as_bool_comparisons(self.expr)


def alert_queries(rules: Path = RULES) -> list[AlertQuery]:
    groups = yaml.safe_load(rules.read_text())["groups"]
    return [AlertQuery(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


#: Label matchers and strings, where `=`, `!=` and `=~` are no comparisons.
_QUOTED_OR_MATCHERS = re.compile(r'\{[^}]*\}|"(?:[^"\\]|\\.)*"')
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool\b)")


def as_bool_comparisons(expr: str) -> str:
    """`a > 0.8` -> `a > bool 0.8`, leaving label matchers and strings alone."""
    out, last = [], 0
    for match in _QUOTED_OR_MATCHERS.finditer(expr):
        out.append(_COMPARISON.sub(r"\1 bool", expr[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_COMPARISON.sub(r"\1 bool", expr[last:]))
    return "".join(out)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, keywords, labels left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        following = expr[match.end() :].lstrip()
        if following.startswith("(") or match.group() in PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


def load_catalogue_tool() -> ModuleType:
    """tools/metric_catalogue.py as a module (tools/ is no package)."""
    spec = importlib.util.spec_from_file_location("metric_catalogue", ROOT / "tools" / "metric_catalogue.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


catalogue = load_catalogue_tool()
METRICS = catalogue.collect()
#: Every series name Prometheus stores for the catalogued metrics.
CATALOGUED_SERIES: set[str] = set().union(*(metric.series() for metric in METRICS))
