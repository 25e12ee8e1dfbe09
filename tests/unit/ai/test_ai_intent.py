"""Intent classification: CLINC150 accuracy floors, few-shot training, bad training sets."""

from __future__ import annotations

from typing import Any

import pytest
from ai_fixtures import grouped

from ai.domain.component import ComponentContext, ComponentError, Insights, SentenceEncoder
from ai.domain.encoder_pair import EncoderPair
from ai.domain.intent import OUT_OF_SCOPE, IntentComponent, IntentModel, TrainingError, validate_examples
from ai.domain.minilm import MiniLMEncoder

# Measured on CLINC150 (train -> test, threshold -0.45, chosen on the validation split) with the
# service's sentence encoder (USE multilingual v3).
# Two-stage model (TF-IDF SVM; TF-IDF + embedding SVM when the first is unsure): in-scope accuracy
# 94.58 %, out-of-scope recall 66.6 %, 71.8 % of in-scope messages decided by the fast stage.
# TF-IDF stage alone: in-scope accuracy 91.73 %, out-of-scope recall 66.3 %.
# (Published: BERT 96.9 % / 40.3 %, bag-of-words SVM 91.0 % / 14.5 %.)
# The model is deterministic (fixed SVM seed, exact encoder): only float rounding across CPUs can
# move these, by a message or two, so the floors sit just under the measurements.
IN_SCOPE_FLOOR = 0.94
OOS_RECALL_FLOOR = 0.64
TFIDF_IN_SCOPE_FLOOR = 0.905
TFIDF_OOS_RECALL_FLOOR = 0.62
# Measured with 10 examples per intent: with the re-ranking stage (the service's encoder pair)
# 86.0 %, two stages 83.27 %, TF-IDF alone 72.4 %.
FEW_SHOT_FLOOR = 0.855
TFIDF_FEW_SHOT_FLOOR = 0.70
# Training on all 15,000 examples takes a minute or more on a busy 2-core machine.
CLINC_TIMEOUT = pytest.mark.timeout(900)


def _measure(model: IntentModel, clinc150: dict[str, Any]) -> tuple[float, float]:
    predictions = model.predict_batch([t for t, _ in clinc150["test"]])
    accuracy = sum(
        p.intent == gold for p, (_, gold) in zip(predictions, clinc150["test"], strict=True)
    ) / len(predictions)
    oos = model.predict_batch([t for t, _ in clinc150["oos_test"]])
    return accuracy, sum(p.out_of_scope for p in oos) / len(oos)


@CLINC_TIMEOUT
def test_clinc150_in_scope_accuracy_and_out_of_scope_recall(
    clinc150: dict[str, Any], clinc_model: IntentModel
) -> None:
    """Two-stage model: measured 94.58 % in-scope accuracy, 66.6 % out-of-scope recall."""
    accuracy, recall = _measure(clinc_model, clinc150)
    print(f"CLINC150 two-stage: in-scope accuracy {accuracy:.4f}, out-of-scope recall {recall:.4f}")
    assert accuracy >= IN_SCOPE_FLOOR
    assert recall >= OOS_RECALL_FLOOR


@CLINC_TIMEOUT
def test_clinc150_with_the_tfidf_stage_alone(
    clinc150: dict[str, Any], clinc_tfidf_model: IntentModel
) -> None:
    """Without the model package: measured 91.73 % in-scope accuracy, 66.3 % out-of-scope recall."""
    accuracy, recall = _measure(clinc_tfidf_model, clinc150)
    print(f"CLINC150 TF-IDF alone: in-scope accuracy {accuracy:.4f}, out-of-scope recall {recall:.4f}")
    assert accuracy >= TFIDF_IN_SCOPE_FLOOR
    assert recall >= TFIDF_OOS_RECALL_FLOOR


@CLINC_TIMEOUT
def test_most_in_scope_messages_are_answered_by_the_fast_stage(
    clinc150: dict[str, Any], clinc_model: IntentModel
) -> None:
    """The cheap stage decides most messages (measured 72 %), which keeps the median cheap."""
    texts = [t for t, _ in clinc150["test"]]
    fast = sum(p.stage == "fast" for p in clinc_model.predict_batch(texts)) / len(texts)
    print(f"share of CLINC150 test messages decided by the fast stage: {fast:.3f}")
    assert fast >= 0.6


@CLINC_TIMEOUT
def test_single_message_scoring_agrees_with_the_batch_path(
    clinc150: dict[str, Any], clinc_model: IntentModel
) -> None:
    texts = [t for t, _ in clinc150["test"][:300]] + [t for t, _ in clinc150["oos_test"][:100]]
    batch = clinc_model.predict_batch(texts)
    single = [clinc_model.predict(t) for t in texts]
    assert [p.intent for p in single] == [p.intent for p in batch]
    assert [p.stage for p in single] == [p.stage for p in batch]
    assert {p.stage for p in single} == {"fast", "accurate"}
    assert all(abs(a.score - b.score) < 1e-3 for a, b in zip(single, batch, strict=True))


@CLINC_TIMEOUT
@pytest.mark.parametrize(("two_stage", "floor"), [(True, FEW_SHOT_FLOOR), (False, TFIDF_FEW_SHOT_FLOOR)])
def test_few_shot_with_10_examples_per_intent(
    clinc150: dict[str, Any], service_encoder: SentenceEncoder, two_stage: bool, floor: float
) -> None:
    few = {intent: texts[:10] for intent, texts in grouped(clinc150["train"]).items()}
    model = IntentModel.train(few, threshold=float("-inf"), encoder=service_encoder if two_stage else None)
    assert model.reranks == two_stage
    accuracy, _ = _measure(model, clinc150)
    print(f"CLINC150 few-shot (10 per intent, {model.kind}) in-scope accuracy {accuracy:.4f}")
    assert accuracy >= floor


@CLINC_TIMEOUT
def test_a_few_shot_model_re_ranks_only_unsure_answers_and_keeps_its_stages_when_detached(
    clinc150: dict[str, Any], service_encoder: SentenceEncoder
) -> None:
    """Re-ranking is the costly stage: only answers the accurate stage is unsure of get it
    (measured 16 % on CLINC150 10-shot); single and batch scoring agree; a model sent to a
    worker keeps it; a replica without the second encoder serves the first two stages."""
    few = {intent: texts[:10] for intent, texts in grouped(clinc150["train"]).items()}
    model = IntentModel.train(few, encoder=service_encoder)
    texts = [t for t, _ in clinc150["test"][::10]] + [t for t, _ in clinc150["oos_test"][::10]]
    batch = model.predict_batch(texts)
    stages = [p.stage for p in batch]
    assert {"fast", "accurate", "rerank"} <= set(stages)
    assert 0.05 <= stages.count("rerank") / len(texts) <= 0.3
    # Out of scope is the accurate stage's call: re-ranking never answers below the threshold.
    assert all(not p.out_of_scope for p in batch if p.stage == "rerank")
    single = [model.predict(t) for t in texts]
    assert [(p.intent, p.stage) for p in single] == [(p.intent, p.stage) for p in batch]
    assert isinstance(service_encoder, EncoderPair)
    sent = model.detached().attach(service_encoder)
    assert [(p.intent, p.stage) for p in sent.predict_batch(texts)] == [(p.intent, p.stage) for p in batch]
    # The second encoder knows English only: a message detected as another language keeps the
    # accurate stage's answer.
    reranked = [t for t, p in zip(texts, batch, strict=True) if p.stage == "rerank"]
    assert all(model.predict(t, rerank=False).stage == "accurate" for t in reranked)
    component = IntentComponent({}, ComponentContext(intent_models=_Models(model)))
    for text in reranked[:20]:
        for language, wanted in (("en", model.predict(text)), ("de", model.predict(text, rerank=False))):
            insights = Insights(tenant_id="acme", text=text, language=language)
            component.analyse(insights)
            assert insights.intent == wanted.intent
    alone = model.detached().attach(service_encoder.primary)
    assert not alone.reranks
    assert "rerank" not in {p.stage for p in alone.predict_batch(texts)}
    assert [p.out_of_scope for p in alone.predict_batch(texts)] == [p.out_of_scope for p in batch]


EXAMPLES = {
    "order_status": [
        "where is my order",
        "has my package shipped",
        "dónde está mi pedido",
        "wo ist mein Paket",
    ],
    "refund": [
        "I want my money back",
        "refund my purchase please",
        "quiero un reembolso",
        "Geld zurück bitte",
    ],
}


def test_a_small_multilingual_model_answers_in_several_languages() -> None:
    model = IntentModel.train(EXAMPLES, threshold=-1.0)
    assert model.predict("where is my package").intent == "order_status"
    assert model.predict("quiero mi reembolso").intent == "refund"


def test_a_two_stage_model_answers_in_several_languages_and_has_its_own_version(
    encoder: MiniLMEncoder,
) -> None:
    model = IntentModel.train(EXAMPLES, threshold=-1.0, encoder=encoder)
    assert model.kind == "tfidf-all-minilm-l6-v2-svm"
    assert model.predict("where is my package").intent == "order_status"
    assert model.predict("quiero mi reembolso").intent == "refund"
    # Same examples, other kind of model: replicas must not take one for the other.
    assert model.version != IntentModel.train(EXAMPLES, threshold=-1.0).version
    assert model.predict_batch(["refund my purchase please", ""])[1].intent == OUT_OF_SCOPE


def test_one_example_per_intent_trains_with_a_warning_per_intent() -> None:
    examples = {"greeting": ["hello there"], "goodbye": ["see you later"], "thanks": ["thank you so much"]}
    report = validate_examples(examples)
    assert len(report.warnings) == 3
    assert all("only 1 example" in w for w in report.warnings)
    model = IntentModel.train(examples, threshold=-10.0)
    assert model.predict("hello").intent in {"greeting", "goodbye", "thanks"}


@pytest.mark.parametrize(
    ("examples", "problem"),
    [
        ({}, "at least 2 intents"),
        ({"only": ["one intent"]}, "at least 2 intents"),
        ({"a": ["x"], "b": ["", "  "]}, "intent 'b' has no non-empty example"),
        ({"a": ["x"], "bad name!": ["y"]}, "intent name 'bad name!'"),
        ({"a": ["x"], OUT_OF_SCOPE: ["y"]}, "reserved"),
        ({"a": ["x"], "b": ["y" * 1001]}, "maximum is 1000"),
    ],
)
def test_bad_training_sets_are_refused_naming_the_problem(
    examples: dict[str, list[str]], problem: str
) -> None:
    with pytest.raises(TrainingError, match=problem.replace("!", "\\!")):
        IntentModel.train(examples)


def test_the_same_examples_give_the_same_version_and_other_examples_another() -> None:
    assert IntentModel.train(EXAMPLES).version == IntentModel.train(EXAMPLES).version
    changed = {**EXAMPLES, "refund": [*EXAMPLES["refund"], "give me a refund"]}
    assert IntentModel.train(changed).version != IntentModel.train(EXAMPLES).version


class _Models:
    def __init__(self, model: IntentModel | None) -> None:
        self.model = model

    def current(self, tenant_id: str) -> IntentModel | None:
        return self.model if tenant_id == "acme" else None


def test_the_component_answers_out_of_scope_for_a_tenant_without_a_model() -> None:
    component = IntentComponent(
        {}, ComponentContext(intent_models=_Models(IntentModel.train(EXAMPLES, threshold=-1.0)))
    )
    acme = Insights(tenant_id="acme", text="where is my order")
    component.analyse(acme)
    assert (acme.intent, acme.out_of_scope) == ("order_status", False)
    globex = Insights(tenant_id="globex", text="where is my order")
    component.analyse(globex)
    assert (globex.intent, globex.out_of_scope) == (OUT_OF_SCOPE, True)


def test_empty_text_is_out_of_scope() -> None:
    model = IntentModel.train(EXAMPLES, threshold=-10.0)
    assert model.predict("").intent == OUT_OF_SCOPE
    assert model.predict("\x00\x01").out_of_scope


def test_a_non_numeric_threshold_setting_is_refused_naming_it() -> None:
    with pytest.raises(ComponentError, match="outOfScopeThreshold"):
        IntentComponent({"outOfScopeThreshold": "high"}, ComponentContext(intent_models=_Models(None)))
