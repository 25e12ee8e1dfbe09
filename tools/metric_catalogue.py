"""Generate `docs/metrics.md`, the catalogue of every metric the platform emits, from the code.

The catalogue is read from the source, not typed by hand: every `meter.create_*` call under
`services/` gives a metric's name, instrument, unit and description; its attributes are the keys
of the attribute dicts the code records with (`Observation(value, {...})` in an observable's
callbacks, `<instrument>.add/record(value, {...})` for the others, `**spread` dicts followed to
their literal). The Prometheus name comes from `ccmesh.prometheus.prometheus_name`, the same
translation the `/metrics` endpoint uses.

`python tools/metric_catalogue.py` rewrites the doc; `--check` fails (exit 1) when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "services"
GENERATED = SOURCES / "contactcenter"
DOC = ROOT / "docs" / "metrics.md"
sys.path.insert(0, str(SOURCES))

from ccmesh.prometheus import prometheus_name  # noqa: E402 - after the source root is importable

#: meter method -> (instrument as documented, Prometheus kind, index of `unit` when positional).
CREATORS = {
    "create_counter": ("counter", "counter", 1),
    "create_up_down_counter": ("up-down counter", "gauge", 1),
    "create_histogram": ("histogram", "histogram", 1),
    "create_gauge": ("gauge", "gauge", 1),
    "create_observable_counter": ("observable counter", "counter", 2),
    "create_observable_up_down_counter": ("observable up-down counter", "gauge", 2),
    "create_observable_gauge": ("observable gauge", "gauge", 2),
}
#: Labels the `/metrics` endpoint adds to every series, from the service's resource.
RESOURCE_LABELS = ("region", "service")


@dataclass
class Metric:
    name: str
    instrument: str
    kind: str
    unit: str
    description: str
    source: str
    attributes: set[str] = field(default_factory=set)

    @property
    def prometheus(self) -> str:
        return prometheus_name(self.name, self.unit, self.kind)

    def series(self) -> set[str]:
        """Every series name Prometheus stores for this metric."""
        if self.kind == "histogram":
            return {f"{self.prometheus}_{part}" for part in ("bucket", "sum", "count")}
        return {self.prometheus}


def _string(node: ast.AST | None) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _argument(call: ast.Call, keyword: str, position: int) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


class _Module:
    """One parsed file with parent links, to find the function or class around a node."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.tree = ast.parse(text, filename=str(path))
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def enclosing(self, node: ast.AST, kinds: tuple[type, ...]) -> ast.AST | None:
        current = self.parent.get(node)
        while current is not None and not isinstance(current, kinds):
            current = self.parent.get(current)
        return current

    def keys(self, node: ast.AST | None, scope: ast.AST | None) -> set[str]:
        """Keys of an attribute dict: a literal, or a name bound to one in `scope`, spreads followed."""
        if isinstance(node, ast.Name) and scope is not None:
            for assign in ast.walk(scope):
                if isinstance(assign, ast.Assign | ast.AnnAssign):
                    targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
                    if any(isinstance(t, ast.Name) and t.id == node.id for t in targets):
                        return self.keys(assign.value, scope)
            outer = self.enclosing(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
            return self.keys(node, outer) if outer is not None else set()
        if not isinstance(node, ast.Dict):
            return set()
        found: set[str] = set()
        for key, value in zip(node.keys, node.values, strict=True):
            found |= {_string(key)} if key is not None else self.keys(value, scope)
        return found - {""}


def _observation_keys(module: _Module, callback: ast.AST, create: ast.Call) -> set[str]:
    """Attribute keys of the Observations a callback yields."""
    function = module.enclosing(create, (ast.FunctionDef, ast.AsyncFunctionDef))
    body: ast.AST | None = callback
    if isinstance(callback, ast.Attribute):  # self._method
        cls = module.enclosing(create, (ast.ClassDef,))
        methods = ast.walk(cls) if cls is not None else iter(())
        body = next((n for n in methods if isinstance(n, ast.FunctionDef) and n.name == callback.attr), None)
    elif isinstance(callback, ast.Name) and function is not None:  # a nested function
        body = next(
            (n for n in ast.walk(function) if isinstance(n, ast.FunctionDef) and n.name == callback.id),
            None,
        )
    keys: set[str] = set()
    for node in ast.walk(body) if body is not None else []:
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Observation"
        ) and len(node.args) > 1:
            scope = module.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            keys |= module.keys(node.args[1], scope if not isinstance(scope, ast.Lambda) else function)
    return keys


def _assigned_name(module: _Module, create: ast.Call) -> str:
    """`self.offers = meter.create_counter(...)` -> `offers`."""
    parent = module.parent.get(create)
    if isinstance(parent, ast.Assign | ast.AnnAssign):
        target = parent.targets[0] if isinstance(parent, ast.Assign) else parent.target
        if isinstance(target, ast.Attribute):
            return target.attr
        if isinstance(target, ast.Name):
            return target.id
    return ""


def collect(sources: Path = SOURCES) -> list[Metric]:
    modules = []
    for path in sorted(sources.rglob("*.py")):
        if GENERATED in path.parents or "__pycache__" in path.parts:
            continue
        text = path.read_text()
        # Only files that create instruments or record with attributes matter; parsing is the cost.
        if any(marker in text for marker in ("create_", ".add(", ".record(", ".set(")):
            modules.append(_Module(path, text))
    found: dict[str, Metric] = {}
    recorders: dict[str, list[Metric]] = {}
    for module in modules:
        for node in ast.walk(module.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            creator = CREATORS.get(node.func.attr)
            name = _string(node.args[0]) if node.args else _string(_argument(node, "name", 0))
            if creator is None or not name:
                continue
            instrument, kind, unit_position = creator
            metric = found.setdefault(
                name,
                Metric(
                    name=name,
                    instrument=instrument,
                    kind=kind,
                    unit=_string(_argument(node, "unit", unit_position)),
                    description=_string(_argument(node, "description", unit_position + 1)),
                    source=str(module.path.relative_to(ROOT)),
                ),
            )
            callbacks = _argument(node, "callbacks", 1) if instrument.startswith("observable") else None
            for callback in callbacks.elts if isinstance(callbacks, ast.List) else []:
                if isinstance(callback, ast.Lambda):
                    metric.attributes |= _observation_keys(module, callback.body, node)
                else:
                    metric.attributes |= _observation_keys(module, callback, node)
            if not instrument.startswith("observable"):
                recorders.setdefault(_assigned_name(module, node), []).append(metric)
    for module in modules:
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "record", "set")
                and len(node.args) == 2
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr in recorders
            ):
                scope = module.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                for metric in recorders[node.func.value.attr]:
                    metric.attributes |= module.keys(node.args[1], scope)
    return sorted(found.values(), key=lambda m: m.name)


def render(metrics: list[Metric]) -> str:
    lines = [
        "# Metric catalogue",
        "",
        "<!-- Generated by tools/metric_catalogue.py from the code; do not edit. -->",
        "",
        "Every metric the platform's services emit. OTLP carries the OpenTelemetry name; the",
        "`/metrics` endpoint (`OTEL_EXPORTER_PROMETHEUS_PORT`) serves the Prometheus name, and adds",
        f"the labels {', '.join(f'`{label}`' for label in RESOURCE_LABELS)} (from the service's resource)",
        "to every series. Histograms are stored as `<name>_bucket`, `<name>_sum` and `<name>_count`.",
        "Attributes hold bounded values only (tenant, region, queue, channel, outcome, names from",
        "configuration), never personal data.",
        "",
        "| Metric | Prometheus | Instrument | Unit | Attributes | Description | Defined in |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for metric in metrics:
        attributes = ", ".join(f"`{a}`" for a in sorted(metric.attributes)) or "-"
        description = metric.description.replace("|", "\\|") or "-"
        lines.append(
            f"| `{metric.name}` | `{metric.prometheus}` | {metric.instrument} | `{metric.unit or '-'}` "
            f"| {attributes} | {description} | `{metric.source}` |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/metrics.md is stale")
    args = parser.parse_args(argv)
    text = render(collect())
    if args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(
                f"{DOC.relative_to(ROOT)} is stale: run `python tools/metric_catalogue.py`", file=sys.stderr
            )
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
