"""The region's pipelines, rebuilt whenever its ContactCenter changes.

A pipeline that cannot be built (unknown component, bad setting, missing input) is reported
in `problems` and logged; for its tenants the last good version stays in effect (or the
default pipeline, if it never built), so a bad config change loses nothing already running.
"""

from __future__ import annotations

import logging

from ai.adapters.registry import ComponentRegistry
from ai.domain.component import ComponentContext
from ai.domain.pipeline import DEFAULT_STEPS, Pipeline, PipelineError, Step, build_pipeline
from ccmesh.configplane.models import AiPipeline, ContactCenter

log = logging.getLogger(__name__)
DEFAULT_NAME = "default"


class PipelineCatalog:
    def __init__(self, registry: ComponentRegistry, context: ComponentContext) -> None:
        self._registry = registry
        self._context = context
        self.default = self.build(DEFAULT_NAME, [Step(name, settings) for name, settings in DEFAULT_STEPS])
        self._by_selector: dict[tuple[str, str], Pipeline] = {}
        self.problems: dict[str, str] = {}
        #: spec.ai.streamInsights of the region, followed live.
        self.stream_insights = False

    def build(self, name: str, steps: list[Step]) -> Pipeline:
        return build_pipeline(name, steps, self._registry.factories, self._context)

    def build_configured(self, configured: AiPipeline) -> Pipeline:
        steps = [Step(c.name, dict(c.settings)) for c in configured.components]
        return self.build(configured.name, steps)

    async def apply(self, document: ContactCenter | None) -> None:
        configured = document.spec.ai.pipelines if document is not None else []
        self.stream_insights = document.spec.ai.stream_insights if document is not None else False
        selectors: dict[tuple[str, str], Pipeline] = {}
        problems: dict[str, str] = {}
        for entry in configured:
            selector = (entry.tenant, entry.brand)
            try:
                selectors[selector] = self.build_configured(entry)
            except PipelineError as error:
                problems[entry.name] = str(error)
                log.error("AI %s; keeping the pipeline in effect before", error)
                previous = self._by_selector.get(selector)
                if previous is not None:
                    selectors[selector] = previous
        self._by_selector = selectors
        self.problems = problems

    def select(self, tenant_id: str, brand_id: str) -> Pipeline:
        for selector in ((tenant_id, brand_id), (tenant_id, ""), ("", "")):
            pipeline = self._by_selector.get(selector)
            if pipeline is not None:
                return pipeline
        return self.default
