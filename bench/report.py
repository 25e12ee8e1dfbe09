"""The one-line JSON report every benchmark prints last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

_OPS = {
    ">=": lambda value, target: value >= target,
    "<=": lambda value, target: value <= target,
    ">": lambda value, target: value > target,
    "<": lambda value, target: value < target,
}


@dataclass(frozen=True)
class Goal:
    metric: str
    op: str
    target: float
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "op": self.op,
            "target": self.target,
            "value": round(self.value, 4),
            "met": bool(_OPS[self.op](self.value, self.target)),
        }


def percentile(values: list[float], share: float) -> float:
    """The value `share` (0-1) of the way through `values` sorted (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def print_report(name: str, results: dict[str, Any], goals: list[Goal]) -> None:
    print(
        orjson.dumps({"benchmark": name, "results": results, "goals": [g.as_dict() for g in goals]}).decode()
    )
