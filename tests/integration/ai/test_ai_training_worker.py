"""The intent training worker process: trains a set away from the service, reports progress
and peak memory, and refuses a set beyond its memory budget with a clear error."""

from __future__ import annotations

import pytest

from ai.adapters.training_worker import IN_PROCESS_BELOW, TrainingFailed, TrainingJob, TrainingWorker
from ai.domain.intent import TrainingError

pytestmark = pytest.mark.timeout(300)


def examples(intents: int, each: int) -> dict[str, list[str]]:
    return {
        f"topic_{i}": [f"please help with w{i}a and w{i}b number {n}" for n in range(each)]
        for i in range(intents)
    }


async def test_a_set_trains_in_a_worker_process_with_progress_and_its_peak_memory() -> None:
    stages: list[str] = []

    async def progress(stage: str, done: int, total: int) -> None:
        stages.append(stage)

    job = TrainingJob(examples(8, IN_PROCESS_BELOW // 8 + 1), threshold=None, target_recall=0.8)
    outcome = await TrainingWorker(None, threads=1, memory_mb=2048).train(job, progress)
    model = outcome.model.attach(None)
    assert model.predict("please help with w3a").intent == "topic_3"
    assert outcome.validation.calibrated and outcome.report.examples >= IN_PROCESS_BELOW
    assert outcome.peak_memory_bytes > 50 * 1024 * 1024  # a Python process with numpy and sklearn
    assert {"building features", "validating", "training the model"} <= set(stages)


async def test_a_set_beyond_the_memory_budget_fails_saying_so() -> None:
    async def progress(stage: str, done: int, total: int) -> None:
        return None

    job = TrainingJob(examples(8, IN_PROCESS_BELOW // 8 + 1), threshold=None, target_recall=0.8)
    with pytest.raises(TrainingFailed, match="memory budget of 1 MiB"):
        await TrainingWorker(None, threads=1, memory_mb=1).train(job, progress)


async def test_a_bad_set_is_refused_by_the_worker_naming_the_problem() -> None:
    async def progress(stage: str, done: int, total: int) -> None:
        return None

    bad = {**examples(2, IN_PROCESS_BELOW), "where?": ["x"]}
    with pytest.raises(TrainingError, match="has '\\?'"):
        await TrainingWorker(None).train(TrainingJob(bad, None, 0.8), progress)
