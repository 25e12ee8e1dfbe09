"""Intent classification trained per tenant from examples, with an out-of-scope answer.

TF-IDF over word 1-2-grams and character 2-5-grams (so it works in any script, including
languages written without spaces) and a linear SVM. Predicting one message goes through
`_FastScorer`, which reuses sklearn's own analyzers but skips its per-call overhead
(about 20x faster for a single text). When the best score is below the threshold the
answer is `out_of_scope`.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from ai.domain.component import (
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Insights,
    Resources,
    float_setting,
)
from ai.domain.component import IntentModels as IntentModelSource

OUT_OF_SCOPE = "out_of_scope"
#: Tuned on CLINC150's validation split (see bench/ai): trades in-scope accuracy for OOS recall.
DEFAULT_THRESHOLD = -0.45
MAX_EXAMPLE_CHARS = 1000
MAX_INTENT_NAME = 100


class TrainingError(ValueError):
    """The examples cannot train a model; the message names the intent or example at fault."""


@dataclass(frozen=True)
class Prediction:
    intent: str
    #: The SVM's best decision score (not a probability): compare with the threshold.
    score: float
    out_of_scope: bool


@dataclass(frozen=True)
class TrainingReport:
    intents: int
    examples: int
    warnings: tuple[str, ...]


def validate_examples(examples: Mapping[str, Sequence[str]]) -> TrainingReport:
    """Check a training set; raise `TrainingError` naming the problem, else report warnings."""
    if len(examples) < 2:
        raise TrainingError(f"need at least 2 intents to train, got {len(examples)}")
    warnings: list[str] = []
    total = 0
    for intent, texts in examples.items():
        if (
            not intent
            or len(intent) > MAX_INTENT_NAME
            or not intent.replace("_", "").replace("-", "").isalnum()
        ):
            raise TrainingError(
                f"intent name {intent[:50]!r} must be 1-{MAX_INTENT_NAME} letters, digits, '_' or '-'"
            )
        if intent == OUT_OF_SCOPE:
            raise TrainingError(f"{OUT_OF_SCOPE!r} is reserved: it is the answer when no intent fits")
        usable = [t for t in texts if t.strip()]
        if not usable:
            raise TrainingError(f"intent {intent!r} has no non-empty example")
        for text in usable:
            if len(text) > MAX_EXAMPLE_CHARS:
                raise TrainingError(
                    f"intent {intent!r}: an example has {len(text)} characters; the maximum is "
                    f"{MAX_EXAMPLE_CHARS}"
                )
        if len(usable) < 5:
            warnings.append(
                f"intent {intent!r} has only {len(usable)} example(s): answers will be less reliable "
                "(10 or more per intent recommended)"
            )
        total += len(usable)
    return TrainingReport(intents=len(examples), examples=total, warnings=tuple(warnings))


class _FastScorer:
    """Decision scores for one text: sklearn's analyzers, a dict lookup and a small dot product."""

    def __init__(self, vectorizers: Sequence[TfidfVectorizer], svm: LinearSVC) -> None:
        self._parts: list[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, int]] = []
        offset = 0
        for vectorizer in vectorizers:
            self._parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        # Row per feature, so the active features' rows are gathered contiguously.
        self._weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        self._bias = svm.intercept_.astype(np.float32)

    def scores(self, text: str) -> np.ndarray:
        indexes: list[int] = []
        values: list[float] = []
        for analyse, vocabulary, idf, offset in self._parts:
            counts = Counter(analyse(text))
            part_indexes: list[int] = []
            part_values: list[float] = []
            for term, count in counts.items():
                column = vocabulary.get(term)
                if column is not None:
                    part_indexes.append(column)
                    part_values.append((1.0 + math.log(count)) * idf[column])
            norm = math.sqrt(sum(v * v for v in part_values)) or 1.0
            indexes.extend(offset + i for i in part_indexes)
            values.extend(v / norm for v in part_values)
        if not indexes:
            return np.array(self._bias, copy=True)
        scores: np.ndarray = np.asarray(values, dtype=np.float32) @ self._weights[indexes] + self._bias
        return scores


class IntentModel:
    def __init__(
        self, vectorizers: Sequence[TfidfVectorizer], svm: LinearSVC, threshold: float, version: str
    ) -> None:
        self._vectorizers = list(vectorizers)
        self._svm = svm
        self._scorer = _FastScorer(vectorizers, svm)
        self.intents: tuple[str, ...] = tuple(str(c) for c in svm.classes_)
        self.threshold = threshold
        self.version = version

    @classmethod
    def train(
        cls,
        examples: Mapping[str, Sequence[str]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        version: str | None = None,
    ) -> IntentModel:
        validate_examples(examples)
        texts = [t for texts in examples.values() for t in texts if t.strip()]
        labels = [intent for intent, ts in examples.items() for t in ts if t.strip()]
        # Few examples: keep every character n-gram, a rare one may be all there is.
        min_df = 2 if len(texts) >= 20 * len(examples) else 1
        vectorizers = [
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df),
        ]
        features = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
        svm = LinearSVC(C=1.0).fit(features, labels)
        return cls(vectorizers, svm, threshold, version or fingerprint(examples, threshold))

    def predict(self, text: str) -> Prediction:
        if not any(char.isalnum() for char in text):
            return Prediction(OUT_OF_SCOPE, float("-inf"), True)
        scores = self._scorer.scores(text)
        best = int(np.argmax(scores)) if len(self.intents) > 2 else int(scores[0] > 0)
        score = float(scores[best]) if len(self.intents) > 2 else abs(float(scores[0]))
        if score < self.threshold:
            return Prediction(OUT_OF_SCOPE, score, True)
        return Prediction(self.intents[best], score, False)

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        features = hstack([v.transform(texts) for v in self._vectorizers]).tocsr()
        scores = np.atleast_2d(self._svm.decision_function(features))
        if len(self.intents) == 2:
            return [self.predict(t) for t in texts]
        best = scores.argmax(axis=1)
        out = []
        for text, index, row in zip(texts, best, scores, strict=True):
            score = float(row[index])
            if score < self.threshold or not any(char.isalnum() for char in text):
                out.append(Prediction(OUT_OF_SCOPE, score, True))
            else:
                out.append(Prediction(self.intents[int(index)], score, False))
        return out


def fingerprint(examples: Mapping[str, Sequence[str]], threshold: float) -> str:
    digest = hashlib.sha256(repr((sorted((k, list(v)) for k, v in examples.items()), threshold)).encode())
    return digest.hexdigest()[:12]


class IntentComponent:
    spec = ComponentSpec(
        name="intent",
        consumes=frozenset({"text"}),
        produces=frozenset({"intent"}),
        resources=Resources(cpu_millis=100, memory_mb=200),
        version="tfidf-svm-1",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        if context.intent_models is None:
            raise ComponentError("the intent component needs the service's intent model store")
        self._models: IntentModelSource = context.intent_models
        self._threshold = float_setting(settings, "outOfScopeThreshold", float("nan"))

    def analyse(self, insights: Insights) -> None:
        model = self._models.current(insights.tenant_id)
        if model is None:
            # No model trained for this tenant yet: a documented, degraded answer.
            insights.intent, insights.out_of_scope = OUT_OF_SCOPE, True
            return
        prediction = model.predict(insights.text[:MAX_EXAMPLE_CHARS])
        stricter = not math.isnan(self._threshold) and prediction.score < self._threshold
        if stricter and not prediction.out_of_scope:
            prediction = Prediction(OUT_OF_SCOPE, prediction.score, True)
        insights.intent = prediction.intent
        insights.intent_confidence = prediction.score
        insights.out_of_scope = prediction.out_of_scope
        insights.intent_model_version = model.version
