"""Pipelines chosen per tenant and brand from the ContactCenter, most specific first; a bad one
keeps the last good version in effect."""

from __future__ import annotations

from pathlib import Path

import yaml

from ai.adapters.registry import ComponentRegistry
from ai.domain.component import ComponentContext
from ai.service_layer.pipelines import PipelineCatalog
from ccmesh.configplane.models import ContactCenter

REPO = Path(__file__).resolve().parents[3]


class _NoModels:
    def current(self, tenant_id: str) -> None:
        return None


def contact_center(pipelines: list[dict[str, object]]) -> ContactCenter:
    source = yaml.safe_load((REPO / "examples/eu.yaml").read_text())
    source["spec"]["ai"] = {"pipelines": pipelines}
    return ContactCenter.model_validate(source)


PIPELINES: list[dict[str, object]] = [
    {"name": "everyone", "components": [{"name": "pii"}]},
    {"name": "acme", "tenant": "acme", "components": [{"name": "language"}]},
    {
        "name": "acme-bank",
        "tenant": "acme",
        "brand": "acme-bank",
        "components": [{"name": "language"}, {"name": "sentiment"}],
    },
]


async def test_the_most_specific_pipeline_is_chosen() -> None:
    catalog = PipelineCatalog(ComponentRegistry.discover(), ComponentContext(intent_models=_NoModels()))
    assert catalog.select("acme", "acme-bank").name == "default"
    await catalog.apply(contact_center(PIPELINES))
    assert catalog.select("acme", "acme-bank").name == "acme-bank"
    assert catalog.select("acme", "acme-retail").name == "acme"
    assert catalog.select("globex", "globex").name == "everyone"
    assert catalog.problems == {}


async def test_a_pipeline_that_cannot_be_built_is_reported_and_the_previous_one_stays() -> None:
    catalog = PipelineCatalog(ComponentRegistry.discover(), ComponentContext(intent_models=_NoModels()))
    await catalog.apply(contact_center([PIPELINES[1]]))
    assert catalog.select("acme", "").component_names == ["language"]
    # sentiment needs `language`, which nothing before it produces; `telepathy` does not exist.
    await catalog.apply(
        contact_center(
            [
                {"name": "acme", "tenant": "acme", "components": [{"name": "sentiment"}]},
                {"name": "globex", "tenant": "globex", "components": [{"name": "telepathy"}]},
            ]
        )
    )
    assert "consumes ['language']" in catalog.problems["acme"]
    assert "unknown component" in catalog.problems["globex"]
    assert catalog.select("acme", "").component_names == ["language"]  # last good one
    assert catalog.select("globex", "").name == "default"  # never built: the default
    await catalog.apply(None)
    assert catalog.select("acme", "").name == "default"
