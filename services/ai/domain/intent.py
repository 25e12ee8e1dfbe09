"""Intent classification trained per tenant from examples, with an out-of-scope answer.

Two stages, both linear SVMs over the same TF-IDF features (word 1-2-grams and character
2-5-grams, so any script works, including languages written without spaces):

- fast: TF-IDF alone. Its answer stands when its best intent leads the runner-up by at
  least `FAST_MARGIN` (72 % of in-scope CLINC150 test messages; ~0.2 ms);
- accurate: TF-IDF plus the message's sentence embedding (the multilingual USE, else
  all-MiniLM-L6-v2), for the rest (~2 ms on one core). On CLINC150 (threshold -0.45) in-scope
  accuracy goes from 91.7 % to 94.6 %, few-shot (10 per intent) from 72.4 % to 83.3 %, while
  the median message only pays for the fast stage;
- re-rank (sets of about 10 examples per intent, when a second encoder is installed:
  `EncoderPair`): where the accurate stage's best intent leads by less than `RERANK_MARGIN`,
  a linear SVM over both encoders' vectors picks the intent (the accurate stage still decides
  out-of-scope, so the calibrated threshold keeps its meaning). CLINC150 10-shot: 83.3 % ->
  86.0 % with 16 % of messages re-ranked, each paying all-MiniLM-L6-v2 in numpy (~11 ms CPU
  for a short question, ~19 ms for a tweet).

Without an encoder (its package not installed, or turned off) a model is the fast stage
alone. When the deciding score is below the threshold the answer is `out_of_scope`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from ai.domain.component import (
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Insights,
    Resources,
    SentenceEncoder,
    float_setting,
)
from ai.domain.component import IntentModels as IntentModelSource
from ai.domain.encoder_pair import second_encoder
from ai.domain.intent_scoring import LinearScores, TfidfFeatures, best_and_margin
from ccmesh.intent_labels import MAX_EXAMPLE_CHARS, IntentLabelError, check_example, normalise_intent_name
from ccmesh.intent_labels import OUT_OF_SCOPE as OUT_OF_SCOPE_NAME

OUT_OF_SCOPE = OUT_OF_SCOPE_NAME
#: Tuned on CLINC150's validation split (see bench/ai): trades in-scope accuracy for OOS recall.
#: The threshold of a model whose training set is too small to calibrate one on.
DEFAULT_THRESHOLD = -0.45
#: The fast stage's answer stands when it leads the runner-up by this much. Chosen on
#: CLINC150's validation split: at 1.0 the two-stage model keeps the accuracy and out-of-scope
#: recall of always running the accurate stage (95.9 % / 70 % against 95.93 % / 70 %) with 72 %
#: of messages decided fast; 0.8 (78 % fast) loses a point of recall, 0.6 (83 %) three.
FAST_MARGIN = 1.0
#: Scale of the (unit-length) embedding next to the two unit-length TF-IDF parts.
EMBEDDING_WEIGHT = 1.0
#: With few examples per intent the embedding carries more of the meaning than rare n-grams
#: can. CLINC150 10-shot in-scope accuracy by weight: all-MiniLM-L6-v2 81.8 % at 1, 84.5 % at
#: 2, 84.6 % at 3 (embedding alone 84.8 %); USE multilingual 82.6 % at 2, 83.3 % at 3, 83.2 %
#: at 4 (alone 84.0 %). Sets whose median intent has at most `FEW_SHOT_EXAMPLES` examples are
#: trained at `FEW_SHOT_EMBEDDING_WEIGHT`.
FEW_SHOT_EXAMPLES = 20
FEW_SHOT_EMBEDDING_WEIGHT = 3.0
#: The accurate stage's answer is re-ranked when its best intent leads by less than this.
#: CLINC150 10-shot accuracy / share of messages re-ranked: 0.1 85.2 % / 8 %, 0.2 86.0 % / 16 %,
#: 0.3 86.4 % / 22 %, always 86.7 % / 75 %: 0.2 takes most of the gain for a fifth of the cost.
RERANK_MARGIN = 0.2
#: Sets whose median intent has at most this many examples train the re-ranking stage. Where
#: it pays and where it costs (CLINC150; bench/ai's message mix, CPU per message on one core):
#: 10-shot +2.7 points; 20-shot +1.0 point for 31 % of the mix re-ranked, pipeline p99
#: 7 ms -> 45 ms. So only the sparsest sets, where the gain is largest, pay for it.
RERANK_MAX_EXAMPLES = 10
#: Vocabulary caps (the most frequent terms are kept): with them, a model's size and the
#: training's memory grow with the number of intents, not with the size of the training set.
MAX_WORD_FEATURES = 100_000
MAX_CHAR_FEATURES = 150_000
#: Examples embedded per encoder call: bounds the memory of the embedding step.
EMBED_BATCH = 256

#: `progress(stage, done, total)`: called as training goes, e.g. ("embedding examples", 512, 15000).
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    return None


class TrainingError(ValueError):
    """The examples cannot train a model; the message names the intent or example at fault."""


@dataclass(frozen=True)
class Prediction:
    intent: str
    #: The deciding SVM's best decision score (not a probability): compare with the threshold.
    score: float
    out_of_scope: bool
    #: Which stage decided: "fast" (TF-IDF), "accurate" (TF-IDF + embedding) or "rerank"
    #: (both encoders' vectors picked the intent; the accurate stage's score decided scope).
    stage: str = "fast"


@dataclass(frozen=True)
class TrainingReport:
    intents: int
    examples: int
    warnings: tuple[str, ...]


def prepare_examples(examples: Mapping[str, Sequence[str]]) -> tuple[dict[str, list[str]], TrainingReport]:
    """The training set as trained (names normalised, blank examples dropped, same names merged)
    and its report; `TrainingError` naming the intent or example at fault."""
    prepared: dict[str, list[str]] = {}
    for raw, texts in examples.items():
        try:
            intent = normalise_intent_name(raw)
        except IntentLabelError as error:
            raise TrainingError(str(error)) from None
        kept = prepared.setdefault(intent, [])
        for number, text in enumerate(texts, start=1):
            try:
                usable = check_example(text)
            except IntentLabelError as error:
                raise TrainingError(f"intent {intent!r}, example {number}: {error}") from None
            if usable is not None:
                kept.append(usable)
    if len(prepared) < 2:
        raise TrainingError(f"need at least 2 intents to train, got {len(prepared)}")
    warnings: list[str] = []
    for intent, texts in prepared.items():
        if not texts:
            raise TrainingError(f"intent {intent!r} has no non-empty example")
        if len(texts) < 5:
            warnings.append(
                f"intent {intent!r} has only {len(texts)} example(s): answers will be less reliable "
                "(10 or more per intent recommended)"
            )
    total = sum(len(texts) for texts in prepared.values())
    return prepared, TrainingReport(intents=len(prepared), examples=total, warnings=tuple(warnings))


def validate_examples(examples: Mapping[str, Sequence[str]]) -> TrainingReport:
    """Check a training set; raise `TrainingError` naming the problem, else report warnings."""
    return prepare_examples(examples)[1]


def _vectorizers(examples: int, intents: int) -> list[TfidfVectorizer]:
    # Few examples: keep every character n-gram, a rare one may be all there is.
    min_df = 2 if examples >= 20 * intents else 1
    return [
        TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            lowercase=True,
            max_features=MAX_WORD_FEATURES,
            dtype=np.float32,
        ),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=min_df,
            max_features=MAX_CHAR_FEATURES,
            dtype=np.float32,
        ),
    ]


def fit_features(texts: Sequence[str], intents: int) -> tuple[list[TfidfVectorizer], csr_matrix]:
    """Vectorizers fitted on `texts`, and the texts' TF-IDF features."""
    vectorizers = _vectorizers(len(texts), intents)
    tfidf = hstack([v.fit_transform(texts) for v in vectorizers], format="csr", dtype=np.float32)
    for vectorizer in vectorizers:
        # Every term cut by min_df or the caps: large, and not needed to transform.
        vectorizer.stop_words_ = None
    return vectorizers, tfidf


def transform(vectorizers: Sequence[TfidfVectorizer], texts: Sequence[str]) -> csr_matrix:
    matrix: csr_matrix = hstack([v.transform(texts) for v in vectorizers], format="csr", dtype=np.float32)
    return matrix


def fit_scorers(
    tfidf: csr_matrix, embeddings: np.ndarray | None, labels: np.ndarray
) -> tuple[LinearScores, LinearScores | None, np.ndarray]:
    """The fast and (with embeddings) accurate scorers, and the label of each scorer column."""
    fast_svm = LinearSVC(C=1.0, random_state=0).fit(tfidf, labels)
    fast = LinearScores(fast_svm, tfidf.shape[1])
    accurate = None
    if embeddings is not None:
        both = hstack([tfidf, csr_matrix(embeddings)], format="csr")
        accurate = LinearScores(LinearSVC(C=1.0, random_state=0).fit(both, labels), tfidf.shape[1])
    return fast, accurate, np.asarray(fast_svm.classes_, dtype=np.int64)


@dataclass
class TrainingSet:
    """A prepared training set with its features, built once: the final model is fitted on all
    of it; validation folds refit the vectorizers on their own rows (see `intent_calibration`)
    but reuse the embeddings."""

    intents: tuple[str, ...]
    texts: list[str]
    #: Per example, the index of its intent in `intents`.
    labels: np.ndarray
    vectorizers: list[TfidfVectorizer]
    tfidf: csr_matrix
    embeddings: np.ndarray | None
    encoder: SentenceEncoder | None
    #: Few-shot sets with an encoder pair: both encoders' vectors side by side, for re-ranking.
    pair_embeddings: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        examples: Mapping[str, Sequence[str]],
        encoder: SentenceEncoder | None = None,
        progress: Progress = no_progress,
    ) -> TrainingSet:
        prepared, _ = prepare_examples(examples)
        intents = tuple(sorted(prepared))
        texts = [t for intent in intents for t in prepared[intent]]
        labels = np.asarray([i for i, intent in enumerate(intents) for _ in prepared[intent]], dtype=np.int32)
        progress("building features", 0, len(texts))
        vectorizers, tfidf = fit_features(texts, len(intents))
        progress("building features", len(texts), len(texts))
        embeddings = pair_embeddings = None
        if encoder is not None:
            unscaled = _embed(encoder, texts, "embedding examples", progress)
            counts = [len(prepared[intent]) for intent in intents]
            embeddings = unscaled * embedding_weight(counts)
            second = second_encoder(encoder) if is_few_shot(counts, RERANK_MAX_EXAMPLES) else None
            if second is not None:
                extra = _embed(second, texts, "embedding examples for re-ranking", progress)
                pair_embeddings = np.hstack([unscaled, extra])
        return cls(intents, texts, labels, vectorizers, tfidf, embeddings, encoder, pair_embeddings)

    def fit(self) -> tuple[LinearScores, LinearScores | None]:
        """The scorers of the final model; the accurate one takes unscaled embeddings."""
        fast, accurate, _ = fit_scorers(self.tfidf, self.embeddings, self.labels)
        if accurate is not None:
            accurate.scale_dense(embedding_weight(np.bincount(self.labels).tolist()))
        return fast, accurate

    def fit_rerank(self) -> LinearScores | None:
        """The re-ranking scorer (over both encoders' vectors), when this set has one."""
        if self.pair_embeddings is None:
            return None
        svm = LinearSVC(C=1.0, random_state=0).fit(self.pair_embeddings, self.labels)
        return LinearScores(svm, 0)


def _embed(encoder: SentenceEncoder, texts: Sequence[str], stage: str, progress: Progress) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        parts.append(np.asarray(encoder.encode(texts[start : start + EMBED_BATCH]), dtype=np.float32))
        progress(stage, min(start + EMBED_BATCH, len(texts)), len(texts))
    return np.vstack(parts)


def is_few_shot(examples_per_intent: Sequence[int], most: int = FEW_SHOT_EXAMPLES) -> bool:
    return float(np.median(examples_per_intent)) <= most


def embedding_weight(examples_per_intent: Sequence[int]) -> float:
    return FEW_SHOT_EMBEDDING_WEIGHT if is_few_shot(examples_per_intent) else EMBEDDING_WEIGHT


@dataclass(frozen=True)
class _Accurate:
    """The second stage: the same TF-IDF features plus the sentence embedding, one linear SVM."""

    encoder: SentenceEncoder
    scores: LinearScores


@dataclass(frozen=True)
class _Rerank:
    """The third stage: the first encoder's vector and the second's side by side, one linear SVM."""

    encoder: SentenceEncoder
    scores: LinearScores

    def intent_of(self, first: np.ndarray, text: str) -> int:
        both = np.concatenate([first, self.encoder.encode_one(text)])
        return int(self.scores.dense_only(both).argmax())


class DetachedModel:
    """A trained model without its sentence encoder: what is stored and sent between processes
    (the encoder is large and every process has its own). `attach` makes it usable again."""

    def __init__(
        self,
        vectorizers: Sequence[TfidfVectorizer],
        intents: tuple[str, ...],
        fast: LinearScores,
        accurate: LinearScores | None,
        threshold: float,
        version: str,
        kind: str,
        rerank: LinearScores | None = None,
    ) -> None:
        self.vectorizers = list(vectorizers)
        self.intents = intents
        self.fast = fast
        self.accurate = accurate
        self.threshold = threshold
        self.version = version
        self.kind = kind
        self.rerank = rerank

    def attach(self, encoder: SentenceEncoder | None) -> IntentModel:
        if kind_of(encoder if self.accurate is not None else None) != self.kind:
            raise TrainingError(
                f"intent model {self.version} is of kind {self.kind}; this replica has {kind_of(encoder)}"
            )
        second = None if self.accurate is None or encoder is None else _Accurate(encoder, self.accurate)
        # Models stored before re-ranking existed have no such attribute. A replica without the
        # second encoder serves the model's first two stages: the same scope, slightly less accuracy.
        rerank: LinearScores | None = getattr(self, "rerank", None)
        companion = second_encoder(encoder) if rerank is not None else None
        third = None if rerank is None or companion is None else _Rerank(companion, rerank)
        return IntentModel(
            self.vectorizers, self.intents, self.fast, self.threshold, self.version, second, third
        )


class IntentModel:
    def __init__(
        self,
        vectorizers: Sequence[TfidfVectorizer],
        intents: tuple[str, ...],
        fast: LinearScores,
        threshold: float,
        version: str,
        accurate: _Accurate | None = None,
        rerank: _Rerank | None = None,
    ) -> None:
        self._vectorizers = list(vectorizers)
        self._features = TfidfFeatures(vectorizers)
        self._fast = fast
        self._accurate = accurate
        self._rerank = rerank if accurate is not None else None
        self.intents = intents
        self.threshold = threshold
        self.version = version
        self.kind = kind_of(accurate.encoder if accurate else None)

    @classmethod
    def train(
        cls,
        examples: Mapping[str, Sequence[str]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        version: str | None = None,
        encoder: SentenceEncoder | None = None,
    ) -> IntentModel:
        return cls.from_training_set(TrainingSet.build(examples, encoder), examples, threshold, version)

    @classmethod
    def from_training_set(
        cls,
        data: TrainingSet,
        examples: Mapping[str, Sequence[str]],
        threshold: float,
        version: str | None = None,
    ) -> IntentModel:
        fast, accurate = data.fit()
        second = None if accurate is None or data.encoder is None else _Accurate(data.encoder, accurate)
        rerank = data.fit_rerank()
        companion = second_encoder(data.encoder) if rerank is not None else None
        third = None if rerank is None or companion is None else _Rerank(companion, rerank)
        chosen = version or fingerprint(examples, threshold, kind_of(data.encoder))
        return cls(data.vectorizers, data.intents, fast, threshold, chosen, second, third)

    @property
    def reranks(self) -> bool:
        """Whether this model has the re-ranking stage (few-shot, encoder pair)."""
        return self._rerank is not None

    def detached(self) -> DetachedModel:
        return DetachedModel(
            self._vectorizers,
            self.intents,
            self._fast,
            self._accurate.scores if self._accurate else None,
            self.threshold,
            self.version,
            self.kind,
            self._rerank.scores if self._rerank else None,
        )

    def predict(self, text: str, rerank: bool = True) -> Prediction:
        """`rerank` False: never the re-ranking stage (e.g. a message in a language the second
        encoder does not know)."""
        if not any(char.isalnum() for char in text):
            return Prediction(OUT_OF_SCOPE, float("-inf"), True)
        indexes, values = self._features.one(text)
        scores = self._fast.one(indexes, values)
        best, top, margin = (float(x[0]) for x in best_and_margin(scores))
        if self._accurate is None or (margin >= FAST_MARGIN and top >= self.threshold):
            return self._decide(int(best), top, "fast")
        embedding = self._accurate.encoder.encode_one(text)
        scores = self._accurate.scores.one(indexes, values, embedding)
        best, top, margin = (float(x[0]) for x in best_and_margin(scores))
        if rerank and self._rerank is not None and margin < RERANK_MARGIN and top >= self.threshold:
            return self._decide(self._rerank.intent_of(embedding, text), top, "rerank")
        return self._decide(int(best), top, "accurate")

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        features = self._features.transform(texts)
        best, top, margin = best_and_margin(self._fast.batch(features))
        stages = np.full(len(texts), "fast", dtype=object)
        if self._accurate is not None:
            unsure = ~((margin >= FAST_MARGIN) & (top >= self.threshold))
            rows = np.flatnonzero(unsure)
            if len(rows):
                unsure_texts = [texts[int(i)] for i in rows]
                embeddings = self._accurate.encoder.encode(unsure_texts)
                scores = self._accurate.scores.batch(features[rows], embeddings)
                best[rows], top[rows], second_margin = best_and_margin(scores)
                stages[rows] = "accurate"
                if self._rerank is not None:
                    again = (second_margin < RERANK_MARGIN) & (top[rows] >= self.threshold)
                    _rerank_rows(self._rerank, rows[again], embeddings[again], texts, best, stages)
        return [
            Prediction(OUT_OF_SCOPE, float("-inf"), True)
            if not any(char.isalnum() for char in text)
            else self._decide(int(index), float(score), str(stage))
            for text, index, score, stage in zip(texts, best, top, stages, strict=True)
        ]

    def _decide(self, best: int, score: float, stage: str) -> Prediction:
        if score < self.threshold:
            return Prediction(OUT_OF_SCOPE, score, True, stage)
        return Prediction(self.intents[best], score, False, stage)


def _rerank_rows(
    rerank: _Rerank,
    rows: np.ndarray,
    first: np.ndarray,
    texts: Sequence[str],
    best: np.ndarray,
    stages: np.ndarray,
) -> None:
    """Re-rank `rows` of a batch in place (`first`: their first encoder's vectors)."""
    if not len(rows):
        return
    second = rerank.encoder.encode([texts[int(i)] for i in rows])
    scores = rerank.scores.dense_only(np.hstack([first, np.asarray(second, dtype=np.float32)]))
    best[rows] = scores.argmax(axis=1)
    stages[rows] = "rerank"


def kind_of(encoder: SentenceEncoder | None) -> str:
    return "tfidf-svm" if encoder is None else f"tfidf-{encoder.name}-svm"


def fingerprint(examples: Mapping[str, Sequence[str]], threshold: float, kind: str) -> str:
    ordered = sorted((k, list(v)) for k, v in examples.items())
    digest = hashlib.sha256(repr((ordered, threshold, kind)).encode())
    return digest.hexdigest()[:12]


class IntentComponent:
    spec = ComponentSpec(
        name="intent",
        consumes=frozenset({"text"}),
        produces=frozenset({"intent"}),
        # Memory includes the shared sentence encoder (~130 MB, mapped from the package's file).
        resources=Resources(cpu_millis=100, memory_mb=350),
        version="two-stage-svm-2",
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
        # The re-ranking encoder (all-MiniLM-L6-v2) knows English only: elsewhere it would add
        # its cost (highest on long texts) for a vector that means little.
        english = insights.language in ("", "en")
        prediction = model.predict(insights.text[:MAX_EXAMPLE_CHARS], rerank=english)
        stricter = not math.isnan(self._threshold) and prediction.score < self._threshold
        if stricter and not prediction.out_of_scope:
            prediction = Prediction(OUT_OF_SCOPE, prediction.score, True, prediction.stage)
        insights.intent = prediction.intent
        insights.intent_confidence = prediction.score
        insights.out_of_scope = prediction.out_of_scope
        insights.intent_model_version = model.version
