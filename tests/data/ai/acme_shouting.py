"""A third-party AI component, installed as its own distribution (`acme-shouting`).

It knows nothing of the platform's internals beyond the component contract: a `spec` and
`analyse(insights)`. It flags messages written mostly in capitals as shouting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai.domain.component import ComponentSpec, Resources


class ShoutingDetector:
    spec = ComponentSpec(
        name="shouting",
        consumes=frozenset({"text"}),
        produces=frozenset({"extras.shouting"}),
        resources=Resources(cpu_millis=1, memory_mb=1),
        version="1.2.0",
    )

    def __init__(self, settings: Mapping[str, str], context: Any) -> None:
        self._ratio = float(settings.get("minUpperRatio", "0.7"))

    def analyse(self, insights: Any) -> None:
        letters = [c for c in insights.text if c.isalpha()]
        upper = sum(1 for c in letters if c.isupper())
        shouting = len(letters) >= 4 and upper / len(letters) >= self._ratio
        insights.extras["shouting"] = "yes" if shouting else "no"
