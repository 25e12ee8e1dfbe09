"""Intent training use case with in-memory fakes: trained once per request, swapped once here,
loaded (not trained) by other replicas, a bad set refused before any training."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ai.adapters.tenant_store import StoreError
from ai.adapters.training_worker import TrainingJob, TrainingOutcome
from ai.domain.intent import DetachedModel, TrainingError
from ai.domain.intent_calibration import train_calibrated
from ai.service_layer.intent_ports import ArtifactCallback, ProgressSink
from ai.service_layer.intents import IntentModels, IntentTraining

SHOP = {
    "order_status": ["where is my order", "has my package shipped", "track my parcel"],
    "refund": ["I want my money back", "refund my purchase", "give me a refund"],
}


class FakeArtifacts:
    """A KV bucket whose watchers, as with NATS, hear of each put on their own task."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.revision = 0
        self.callbacks: list[ArtifactCallback] = []
        self.deliveries: list[asyncio.Future[None]] = []

    async def get_artifact(self, kind: str, tenant_id: str) -> tuple[Any, int] | None:
        found = self.values.get(f"{kind}.{tenant_id}")
        return (found, self.revision) if found is not None else None

    async def put_artifact(self, kind: str, tenant_id: str, value: Any) -> int:
        self.revision += 1
        self.values[f"{kind}.{tenant_id}"] = value
        for callback in self.callbacks:
            self.deliveries.append(asyncio.ensure_future(callback(tenant_id, value, self.revision)))
        return self.revision

    async def watch(self, kind: str, callback: ArtifactCallback) -> None:
        self.callbacks.append(callback)

    async def delivered(self) -> None:
        await asyncio.gather(*self.deliveries)


class FakeObjects:
    def __init__(self) -> None:
        self.uploads: dict[str, dict[str, list[str]]] = {}
        self.models: dict[str, DetachedModel] = {}

    async def take_upload(self, tenant_id: str, job: str) -> dict[str, list[str]]:
        try:
            return self.uploads.pop(f"uploads/{tenant_id}/{job}")
        except KeyError:
            raise StoreError(f"no uploaded training set uploads/{tenant_id}/{job}") from None

    async def put_model(self, tenant_id: str, model: DetachedModel) -> str:
        name = f"models/{tenant_id}/{model.version}"
        self.models[name] = model
        return name

    async def model(self, name: str) -> DetachedModel:
        return self.models[name]

    async def forget(self, name: str) -> None:
        self.models.pop(name, None)


class CountingTrainer:
    """Trains in this process (the worker process is the adapter's business) and counts."""

    def __init__(self) -> None:
        self.trainings = 0
        self.stages: list[str] = []

    async def train(self, job: TrainingJob, progress: ProgressSink) -> TrainingOutcome:
        self.trainings += 1
        model, report, validation = train_calibrated(
            job.examples, threshold=job.threshold, target_recall=job.target_recall
        )
        await progress("training the model", 1, 1)
        return TrainingOutcome(model.detached(), report, validation, peak_memory_bytes=1, seconds=0.0)


def replica(artifacts: FakeArtifacts, objects: FakeObjects) -> tuple[IntentTraining, CountingTrainer]:
    trainer = CountingTrainer()
    return IntentTraining(IntentModels(), artifacts, objects, trainer), trainer


async def test_a_request_trains_once_and_swaps_once_and_other_replicas_load_it() -> None:
    artifacts, objects = FakeArtifacts(), FakeObjects()
    here, here_trainer = replica(artifacts, objects)
    there, there_trainer = replica(artifacts, objects)
    published: list[tuple[str, str]] = []

    async def publish(job: str, stage: str, done: int, total: int) -> None:
        published.append((job, stage))

    here._publish = publish
    await here.start()
    await there.start()
    objects.uploads["uploads/acme/job1"] = SHOP

    trained = await here.train("acme", None, upload_job="job1", threshold=-1.0)
    await artifacts.delivered()

    assert here_trainer.trainings == 1 and here.models.swaps == {"acme": 1}
    assert there_trainer.trainings == 0 and there.models.swaps == {"acme": 1}
    assert there.models.current("acme").version == trained.model.version  # type: ignore[union-attr]
    assert "uploads/acme/job1" not in objects.uploads
    assert published == [("job1", "training the model")]

    # A second request replaces the model; the old one's object is removed.
    again = await here.train("acme", {**SHOP, "cancel": ["cancel my plan"]}, threshold=-1.0)
    await artifacts.delivered()
    assert here_trainer.trainings == 2 and here.models.swaps == {"acme": 2}
    assert list(objects.models) == [f"models/acme/{again.model.version}"]


async def test_a_bad_set_is_refused_before_training_and_the_model_in_effect_stays() -> None:
    artifacts, objects = FakeArtifacts(), FakeObjects()
    training, trainer = replica(artifacts, objects)
    await training.start()
    first = await training.train("acme", SHOP, threshold=-1.0)
    await artifacts.delivered()
    for bad, problem in [
        ({**SHOP, "where is it?": ["x"]}, "has '?'"),
        ({"only": ["one"]}, "at least 2 intents"),
    ]:
        with pytest.raises(TrainingError, match=problem.replace("?", "\\?")):
            await training.train("acme", bad)
    with pytest.raises(TrainingError, match="between 0 and 1"):
        await training.train("acme", SHOP, target_recall=1.5)
    with pytest.raises(StoreError, match="no uploaded training set"):
        await training.train("acme", None, upload_job="missing")
    assert trainer.trainings == 1
    assert training.models.current("acme").version == first.model.version  # type: ignore[union-attr]


async def test_a_training_set_stored_by_an_older_version_is_trained_once() -> None:
    artifacts, objects = FakeArtifacts(), FakeObjects()
    training, trainer = replica(artifacts, objects)
    await training.start()
    await artifacts.put_artifact("intent", "acme", {"examples": SHOP, "threshold": -1.0})
    await artifacts.delivered()
    assert trainer.trainings == 1 and training.models.swaps == {"acme": 1}
