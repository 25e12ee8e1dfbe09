"""Intent models as the service trains them: calibrated out-of-scope, 10-shot, training time.

- CLINC150 trained through the service's training worker (a separate process, one BLAS
  thread, the sentence encoder when installed) with the out-of-scope examples hidden from
  training; the threshold is chosen by validation on held-out intents for the default target
  recall. Measured on the test split: in-scope accuracy and out-of-scope recall at that
  threshold (goals: recall >= 60 % with accuracy >= 94 %), the validation's own estimate, the
  wall time of the training and the worker's peak memory;
- 10-shot: 10 training examples per intent, in-scope accuracy with every answer in scope
  (goal >= 85 %), as the service trains such a set: with the re-ranking stage when both
  sentence encoders are installed (the share of test messages it re-ranked is reported, since
  each pays for the second encoder), and without it for comparison.

    python -m bench.ai.intent_calibration     # this part alone; `make bench-ai` runs it too
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from ai.adapters.training_worker import TrainingJob, TrainingWorker
from ai.domain.component import SentenceEncoder
from ai.domain.intent import IntentModel
from ai.domain.intent_calibration import DEFAULT_TARGET_RECALL
from bench.report import Goal, print_report


def _grouped(rows: list[list[str]]) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for text, intent in rows:
        examples.setdefault(intent, []).append(text)
    return examples


def _accuracy(model: IntentModel, rows: list[list[str]]) -> float:
    predictions = model.predict_batch([text for text, _ in rows])
    return sum(p.intent == gold for p, (_, gold) in zip(predictions, rows, strict=True)) / len(rows)


def _oos_recall(model: IntentModel, rows: list[list[str]]) -> float:
    return sum(p.out_of_scope for p in model.predict_batch([text for text, _ in rows])) / len(rows)


async def _ignore(stage: str, done: int, total: int) -> None:
    return None


def measure_intent_calibration(
    data: dict[str, Any], encoder: SentenceEncoder | None, loader: Any
) -> tuple[dict[str, Any], list[Goal]]:
    """`loader`: the picklable function the worker loads the encoder with (None: TF-IDF only)."""
    worker = TrainingWorker(loader if encoder is not None else None, threads=1, memory_mb=0)
    job = TrainingJob(_grouped(data["train"]), threshold=None, target_recall=DEFAULT_TARGET_RECALL)
    started = time.perf_counter()
    outcome = asyncio.run(worker.train(job, _ignore))
    wall = time.perf_counter() - started
    model = outcome.model.attach(encoder)
    in_scope = _accuracy(model, data["test"])
    recall = _oos_recall(model, data["oos_test"])
    few = IntentModel.train(
        {k: v[:10] for k, v in _grouped(data["train"]).items()}, threshold=float("-inf"), encoder=encoder
    )
    few_shot = _accuracy(few, data["test"])
    stages = [p.stage for p in few.predict_batch([text for text, _ in data["test"]])]
    two_stages = few.detached().attach(getattr(encoder, "primary", encoder))
    validation = outcome.validation
    results = {
        "intent_model": model.kind,
        "target_oos_recall": validation.target_recall,
        "calibrated_threshold": round(model.threshold, 4),
        "clinc150_calibrated_oos_recall": round(recall, 4),
        "clinc150_calibrated_in_scope_accuracy": round(in_scope, 4),
        "validation_estimate": {
            "in_scope_accuracy": round(validation.accuracy, 4),
            "oos_recall_on_held_out_intents": round(validation.out_of_scope_recall, 4),
            "weakest": [list(w) for w in validation.weakest],
            "confused": [list(c) for c in validation.confused],
        },
        "clinc150_few_shot_10_accuracy": round(few_shot, 4),
        "clinc150_few_shot_10_reranked_share": round(stages.count("rerank") / len(stages), 4),
        "clinc150_few_shot_10_accuracy_without_reranking": round(_accuracy(two_stages, data["test"]), 4),
        "clinc150_training_seconds_wall": round(wall, 1),
        "clinc150_training_seconds_in_worker": round(outcome.seconds, 1),
        "clinc150_training_peak_memory_mib": round(outcome.peak_memory_bytes / (1024 * 1024)),
    }
    goals = [
        Goal("clinc150_calibrated_oos_recall", ">=", 0.60, recall),
        Goal("clinc150_calibrated_in_scope_accuracy", ">=", 0.94, in_scope),
        Goal("clinc150_few_shot_10_accuracy", ">=", 0.85, few_shot),
    ]
    return results, goals


def measure_clinc150_calibration() -> tuple[dict[str, Any], list[Goal]]:
    from ai.adapters.multilingual_encoder import load_sentence_encoder
    from bench.ai.__main__ import CLINC150, encoder_or_none

    data: dict[str, Any] = json.loads(CLINC150.read_text())
    # The worker loads the encoder as the service does (the same function as encoder_or_none).
    return measure_intent_calibration(data, encoder_or_none(), load_sentence_encoder)


def main() -> None:
    print_report("ai-intent-calibration", *measure_clinc150_calibration())


if __name__ == "__main__":
    main()
