"""The out-of-scope threshold chosen from the tenant's own data, and the validation report.

A fixed threshold tuned on one data set does not carry over to another: SVM scores depend on
how many intents there are, how close they are and how many examples each has. So training
cross-validates on the tenant's set with *held-out intents as pseudo out-of-scope*: the intents
are dealt into `FOLDS` groups; each fold trains on the other groups' intents (minus every
`TEST_EVERY`-th example, kept as in-scope test) and scores both the kept test examples and every
example of the held-out intents, exactly as the two-stage model decides (fast stage when it is
sure, else the accurate one). The threshold is the lowest at which that pseudo out-of-scope
recall reaches the target; accuracy, recall, the weakest intents and the most-confused pairs are
measured at it on the same folds.

Held-out intents of the same tenant resemble the tenant's intents more than most real
out-of-scope messages do, so the recall reached on real traffic is usually at least the target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ai.domain.component import SentenceEncoder
from ai.domain.intent import (
    DEFAULT_THRESHOLD,
    FAST_MARGIN,
    IntentModel,
    Progress,
    TrainingReport,
    TrainingSet,
    fit_features,
    fit_scorers,
    no_progress,
    prepare_examples,
    transform,
)
from ai.domain.intent_scoring import best_and_margin

#: Intents are dealt into this many groups; a fold holds one group out. Few large groups would
#: train the folds on far fewer intents than the final model, whose scores then run higher on
#: unknown messages (more intents, more chances of a close one): the recall would not carry over.
GROUPS = 10
#: Folds run (each holding a different group out): bounds the validation's time.
FOLDS = 3
TEST_EVERY = 5
#: Intents needed to hold some out and still train on several.
MIN_INTENTS = 6
#: Examples the folds use at most (an even share per intent): bounds the validation's time and
#: memory on large sets, where a sample measures the threshold as well as the whole.
MAX_VALIDATION_EXAMPLES = 30_000
#: Out-of-scope recall on held-out intents the threshold aims at when the tenant does not
#: choose one. Held-out intents are the hardest unknown messages there are (siblings of trained
#: intents), so a modest target already catches most real out-of-scope traffic. CLINC150, two
#: stages with the USE multilingual encoder, real out-of-scope test messages / in-scope
#: accuracy: target 0.3 -> threshold -0.42, 69.3 % / 94.4 %; 0.4 -> -0.31, 77.7 % / 93.7 %;
#: (all-MiniLM-L6-v2) 0.8 -> 0.24, 94.7 % / 85.5 %.
DEFAULT_TARGET_RECALL = 0.3
REPORTED = 5


@dataclass(frozen=True)
class ValidationReport:
    #: False when the set was too small to validate (then the other figures are empty).
    calibrated: bool
    threshold: float
    target_recall: float
    accuracy: float = 0.0
    out_of_scope_recall: float = 0.0
    in_scope_examples: int = 0
    out_of_scope_examples: int = 0
    #: (intent, share of its test examples answered right, test examples), worst first.
    weakest: tuple[tuple[str, float, int], ...] = ()
    #: (intent, intent it was taken for, times), most frequent first.
    confused: tuple[tuple[str, str, int], ...] = ()
    note: str = ""


@dataclass
class _Scores:
    """Per scored example of every fold: gold intent (-1: held out) and both stages' answers."""

    gold: list[np.ndarray] = field(default_factory=list)
    fast_best: list[np.ndarray] = field(default_factory=list)
    fast_top: list[np.ndarray] = field(default_factory=list)
    fast_margin: list[np.ndarray] = field(default_factory=list)
    accurate_best: list[np.ndarray] = field(default_factory=list)
    accurate_top: list[np.ndarray] = field(default_factory=list)

    def joined(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in vars(self).items() if parts}


def validation_rows(labels: np.ndarray, intents: int, limit: int = MAX_VALIDATION_EXAMPLES) -> np.ndarray:
    """The examples the folds use: all of them, or an even share per intent up to `limit`."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    share = max(2, limit // intents)
    kept = [np.flatnonzero(labels == i)[:share] for i in range(intents)]
    return np.sort(np.concatenate(kept))


def _group_of_intent(intents: int) -> np.ndarray:
    order = np.random.default_rng(0).permutation(intents)
    groups = np.empty(intents, dtype=np.int64)
    groups[order] = np.arange(intents) % min(GROUPS, intents)
    return groups


def cross_validate(data: TrainingSet, progress: Progress = no_progress) -> dict[str, np.ndarray] | None:
    """Both stages' answers on every fold's test rows, or None when the set is too small."""
    intents = len(data.intents)
    if intents < MIN_INTENTS:
        return None
    rows = validation_rows(data.labels, intents)
    labels = data.labels[rows]
    group_of = _group_of_intent(intents)[labels]
    # Every TEST_EVERY-th example of an intent is a test example (never an intent's only one).
    position = np.zeros(len(rows), dtype=np.int64)
    seen: Counter[int] = Counter()
    for index, label in enumerate(labels.tolist()):
        position[index] = seen[label]
        seen[label] += 1
    counts = np.asarray([seen[label] for label in labels.tolist()])
    held_back = (position % TEST_EVERY == TEST_EVERY - 1) & (counts > 1)
    scores = _Scores()
    for fold in range(FOLDS):
        progress("validating", fold, FOLDS)
        out = group_of == fold
        train = rows[~out & ~held_back]
        test = np.concatenate([rows[~out & held_back], rows[out]])
        gold = np.concatenate([labels[~out & held_back], np.full(int(out.sum()), -1)])
        # Vectorizers fitted on the fold's own texts: the held-out intents' words must be as
        # unknown to the fold as an unseen intent's are to the final model.
        vectorizers, train_tfidf = fit_features(
            [data.texts[i] for i in train], intents - len(set(labels[out].tolist()))
        )
        tfidf = transform(vectorizers, [data.texts[i] for i in test])
        embeddings = None if data.embeddings is None else data.embeddings[train]
        fast, accurate, classes = fit_scorers(train_tfidf, embeddings, data.labels[train])
        best, top, margin = best_and_margin(fast.batch(tfidf))
        scores.gold.append(gold)
        scores.fast_best.append(classes[best])
        scores.fast_top.append(top)
        scores.fast_margin.append(margin)
        if accurate is not None and data.embeddings is not None:
            second = accurate.batch(tfidf, data.embeddings[test])
            scores.accurate_best.append(classes[second.argmax(axis=1)])
            scores.accurate_top.append(second.max(axis=1))
    progress("validating", FOLDS, FOLDS)
    return scores.joined()


def _answers(scores: Mapping[str, np.ndarray], threshold: float) -> np.ndarray:
    """The intent index each scored example gets at `threshold` (-1: out of scope)."""
    if "accurate_top" not in scores:
        return np.where(scores["fast_top"] >= threshold, scores["fast_best"], -1)
    fast = (scores["fast_margin"] >= FAST_MARGIN) & (scores["fast_top"] >= threshold)
    best = np.where(fast, scores["fast_best"], scores["accurate_best"])
    top = np.where(fast, scores["fast_top"], scores["accurate_top"])
    return np.where(top >= threshold, best, -1)


def _recall(scores: Mapping[str, np.ndarray], threshold: float) -> float:
    held_out = scores["gold"] < 0
    return float((_answers(scores, threshold)[held_out] < 0).mean())


def choose_threshold(scores: Mapping[str, np.ndarray], target_recall: float) -> float:
    """The lowest threshold at which the held-out intents' recall reaches `target_recall`.

    Recall only grows with the threshold, so a binary search over the scores where an
    answer can change finds it."""
    held_out = scores["gold"] < 0
    candidates = [scores["fast_top"][held_out]]
    if "accurate_top" in scores:
        candidates.append(scores["accurate_top"][held_out])
    # Just above a score is where that example turns out of scope.
    values = np.unique(np.nextafter(np.concatenate(candidates), np.inf))
    low, high = 0, len(values) - 1
    if _recall(scores, float(values[high])) < target_recall:
        return float(values[high])
    while low < high:
        middle = (low + high) // 2
        if _recall(scores, float(values[middle])) >= target_recall:
            high = middle
        else:
            low = middle + 1
    return float(values[low])


def report_at(
    scores: Mapping[str, np.ndarray], intents: Sequence[str], threshold: float, target_recall: float
) -> ValidationReport:
    answers = _answers(scores, threshold)
    gold = scores["gold"]
    in_scope = gold >= 0
    right = answers[in_scope] == gold[in_scope]
    per_intent = []
    for index in np.unique(gold[in_scope]).tolist():
        mine = gold[in_scope] == index
        per_intent.append((intents[index], float(right[mine].mean()), int(mine.sum())))
    per_intent.sort(key=lambda row: (row[1], row[0]))
    wrong = in_scope & (answers != gold) & (answers >= 0)
    pairs = Counter(zip(gold[wrong].tolist(), answers[wrong].tolist(), strict=True))
    confused = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return ValidationReport(
        calibrated=True,
        threshold=threshold,
        target_recall=target_recall,
        accuracy=float(right.mean()) if len(right) else 0.0,
        out_of_scope_recall=_recall(scores, threshold),
        in_scope_examples=int(in_scope.sum()),
        out_of_scope_examples=int((~in_scope).sum()),
        weakest=tuple(row for row in per_intent[:REPORTED] if row[1] < 1.0),
        confused=tuple((intents[a], intents[b], n) for (a, b), n in confused[:REPORTED]),
    )


def calibrate(
    data: TrainingSet,
    target_recall: float = DEFAULT_TARGET_RECALL,
    threshold: float | None = None,
    fallback: float = 0.0,
    progress: Progress = no_progress,
) -> ValidationReport:
    """Choose the threshold for `target_recall` (or measure the given `threshold`) by
    cross-validation; a set too small to validate keeps `threshold` or else `fallback`."""
    scores = cross_validate(data, progress)
    if scores is None:
        return ValidationReport(
            calibrated=False,
            threshold=fallback if threshold is None else threshold,
            target_recall=target_recall,
            note=(
                f"{len(data.intents)} intents: at least {MIN_INTENTS} are needed to validate "
                "with held-out intents; the threshold is not calibrated"
            ),
        )
    chosen = choose_threshold(scores, target_recall) if threshold is None else threshold
    return report_at(scores, data.intents, chosen, target_recall)


def train_calibrated(
    examples: Mapping[str, Sequence[str]],
    *,
    encoder: SentenceEncoder | None = None,
    target_recall: float = DEFAULT_TARGET_RECALL,
    threshold: float | None = None,
    progress: Progress = no_progress,
) -> tuple[IntentModel, TrainingReport, ValidationReport]:
    """Validate, choose the threshold, and train the model on the whole set, features built once."""
    prepared, report = prepare_examples(examples)
    data = TrainingSet.build(prepared, encoder, progress)
    validation = calibrate(data, target_recall, threshold, DEFAULT_THRESHOLD, progress)
    progress("training the model", 0, 1)
    model = IntentModel.from_training_set(data, prepared, validation.threshold)
    progress("training the model", 1, 1)
    return model, report, validation
