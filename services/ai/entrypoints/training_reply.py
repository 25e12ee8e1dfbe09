"""A finished intent training as its `TrainIntentsResponse`."""

from __future__ import annotations

from ai.service_layer.intents import TrainedIntents
from contactcenter.ai.v1 import ai_pb2


def training_reply(trained: TrainedIntents) -> ai_pb2.TrainIntentsResponse:
    outcome = trained.outcome
    validation = outcome.validation
    return ai_pb2.TrainIntentsResponse(
        version=trained.model.version,
        intents=outcome.report.intents,
        examples=outcome.report.examples,
        warnings=outcome.report.warnings,
        out_of_scope_threshold=trained.model.threshold,
        validation=ai_pb2.IntentValidation(
            calibrated=validation.calibrated,
            target_out_of_scope_recall=validation.target_recall,
            accuracy=validation.accuracy,
            out_of_scope_recall=validation.out_of_scope_recall,
            in_scope_examples=validation.in_scope_examples,
            out_of_scope_examples=validation.out_of_scope_examples,
            weakest=[
                ai_pb2.WeakIntent(intent=intent, accuracy=accuracy, examples=examples)
                for intent, accuracy, examples in validation.weakest
            ],
            confused=[
                ai_pb2.ConfusedIntents(intent=intent, taken_for=other, times=times)
                for intent, other, times in validation.confused
            ],
            note=validation.note,
        ),
        peak_memory_bytes=outcome.peak_memory_bytes,
        training_seconds=outcome.seconds,
    )
