"""Every message records how long each pipeline stage took (`contactcenter.ai.stage.duration`),
per tenant, pipeline and stage; a stage that fails is timed too; nothing of the text is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fakes.ai_fakes import TENANT, FakeConversations, InlineInference, OnePipeline
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from ai.domain.component import ComponentContext, ComponentSpec, Insights
from ai.domain.pipeline import Step, build_pipeline
from ai.service_layer.analysis import Analyzer
from ai.service_layer.metrics import STAGE_BUCKETS, AiMetrics

TEXT = "My card 4111 1111 1111 1111 was charged twice"


@dataclass
class Shouting:
    spec = ComponentSpec("shouting", frozenset({"text"}), frozenset({"extras.shouting"}))

    def analyse(self, insights: Insights) -> None:
        insights.extras["shouting"] = str(insights.text.isupper())


@dataclass
class Broken:
    spec = ComponentSpec("broken", frozenset({"text"}), frozenset({"extras.never"}))

    def analyse(self, insights: Insights) -> None:
        raise RuntimeError("a bug in a third-party component")


def factories() -> dict[str, object]:
    def shouting(settings: Mapping[str, str], context: ComponentContext) -> Shouting:
        return Shouting()

    def broken(settings: Mapping[str, str], context: ComponentContext) -> Broken:
        return Broken()

    return {"shouting": shouting, "broken": broken}


async def test_each_stage_of_each_message_is_timed_without_the_text() -> None:
    reader = InMemoryMetricReader()
    metrics = AiMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    pipeline = build_pipeline(
        "support",
        [Step("shouting"), Step("broken")],
        factories(),
        ComponentContext(),  # type: ignore[arg-type]
    )
    analyzer = Analyzer(OnePipeline(pipeline), FakeConversations(), InlineInference(), metrics)  # type: ignore[arg-type]

    for _ in range(3):
        analysis = await analyzer.analyze(TENANT, "", TEXT, contact_id="c1")
    assert set(analysis.insights.stage_seconds) == {"shouting", "broken"}

    data = reader.get_metrics_data()
    assert data is not None
    (metric,) = [
        m
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == "contactcenter.ai.stage.duration"
    ]
    assert metric.unit == "s"
    by_stage = {}
    for point in metric.data.data_points:
        assert isinstance(point, HistogramDataPoint)
        by_stage[point.attributes["stage"]] = point
        assert dict(point.attributes) == {
            "tenant": TENANT,
            "pipeline": "support",
            "stage": point.attributes["stage"],
        }
        assert tuple(point.explicit_bounds) == STAGE_BUCKETS
    assert {stage: point.count for stage, point in by_stage.items()} == {"shouting": 3, "broken": 3}
    assert all(0 <= point.sum < 1.0 for point in by_stage.values())
