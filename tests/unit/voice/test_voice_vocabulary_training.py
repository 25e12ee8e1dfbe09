"""A training's examples reach the tenant's speech vocabulary, also from an uploaded set; a
store that cannot keep them leaves the trained model in effect."""

from __future__ import annotations

from typing import Any

from ai.service_layer.intents import IntentModels, IntentTraining
from ai.service_layer.transcription_vocabulary import StoredVocabulary
from tests.unit.ai_use_cases.test_intent_training import SHOP, CountingTrainer, FakeArtifacts, FakeObjects


class RefusingArtifacts(FakeArtifacts):
    async def put_artifact(self, kind: str, tenant_id: str, value: Any) -> int:
        if kind.startswith("speech"):
            raise ConnectionError("bucket away")
        return await super().put_artifact(kind, tenant_id, value)


async def test_an_uploaded_training_set_becomes_the_tenants_speech_vocabulary() -> None:
    artifacts, objects = FakeArtifacts(), FakeObjects()
    vocabulary = StoredVocabulary(artifacts)
    training = IntentTraining(
        IntentModels(),
        artifacts,
        objects,
        CountingTrainer(),
        examples_trained=vocabulary.remember_intent_examples,
    )
    objects.uploads["uploads/acme/job1"] = SHOP
    await training.train("acme", None, upload_job="job1", threshold=-1.0)
    assert sorted(await vocabulary.sentences("acme")) == sorted(t for texts in SHOP.values() for t in texts)
    assert await vocabulary.sentences("globex") == []


async def test_a_vocabulary_not_kept_leaves_the_model_in_effect() -> None:
    artifacts, objects = RefusingArtifacts(), FakeObjects()
    vocabulary = StoredVocabulary(artifacts)
    training = IntentTraining(
        IntentModels(),
        artifacts,
        objects,
        CountingTrainer(),
        examples_trained=vocabulary.remember_intent_examples,
    )
    trained = await training.train("acme", SHOP, threshold=-1.0)
    assert training.models.current("acme") is trained.model
    assert await vocabulary.sentences("acme") == []
