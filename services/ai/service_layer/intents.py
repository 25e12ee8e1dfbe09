"""Per-tenant intent models: train once, store, and swap on every replica without a restart.

`TrainIntents` takes the training set (in the request, or uploaded to the region's training
object store for a real-size set), checks it (so a bad set fails the call and nothing in
effect is touched), and trains it exactly once, in a worker process (bounded threads and
memory, progress reported as it goes). The training validates on the set itself to choose
the out-of-scope threshold for the tenant (see `ai.domain.intent_calibration`).

The trained model (not the examples) is stored in the object store and the tenant's KV key
names it; every replica's watcher loads it from there and swaps it in. The training replica
stores the key and swaps under the same lock its watcher takes, so its watcher finds the model
already in effect and does nothing: one training and one swap per request on this replica,
one load and one swap on each other replica.

A training set stored by an older version (the examples themselves under the KV key) is
still trained from, once, when first seen.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.adapters.tenant_store import StoreError
from ai.adapters.training_worker import TrainingJob, TrainingOutcome
from ai.domain.component import SentenceEncoder
from ai.domain.intent import IntentModel, TrainingError, fingerprint, kind_of, prepare_examples
from ai.domain.intent_calibration import DEFAULT_TARGET_RECALL
from ai.service_layer.intent_ports import Artifacts, ModelObjects, Trainer

log = logging.getLogger(__name__)
KIND = "intent"

#: `publish(job, stage, done, total)`: best-effort progress for whoever started the training.
ProgressPublisher = Callable[[str, str, int, int], Awaitable[None]]


async def _no_publisher(job: str, stage: str, done: int, total: int) -> None:
    return None


class IntentModels:
    """The intent model in effect per tenant (the `IntentModels` the intent component reads)."""

    def __init__(self) -> None:
        self._models: dict[str, IntentModel] = {}
        #: Models swapped in per tenant since start (how often each tenant's model changed here).
        self.swaps: dict[str, int] = {}

    def current(self, tenant_id: str) -> IntentModel | None:
        return self._models.get(tenant_id)

    def version_of(self, tenant_id: str) -> str:
        """The version of the tenant's model in effect ("" when it has none)."""
        model = self._models.get(tenant_id)
        return model.version if model is not None else ""

    def swap(self, tenant_id: str, model: IntentModel, how: str) -> None:
        self._models[tenant_id] = model  # one assignment: readers see the old or the new model
        self.swaps[tenant_id] = self.swaps.get(tenant_id, 0) + 1
        log.info(
            "intent model %s of tenant %s in effect (%s)",
            model.version,
            tenant_id,
            how,
            extra={"intent_model_swap": tenant_id},
        )


#: Told the examples a tenant's model was trained on (`StoredVocabulary.remember_intent_examples`).
ExamplesTrained = Callable[[str, Mapping[str, Sequence[str]]], Awaitable[None]]


@dataclass(frozen=True)
class TrainedIntents:
    model: IntentModel
    outcome: TrainingOutcome


class IntentTraining:
    def __init__(
        self,
        models: IntentModels,
        store: Artifacts,
        objects: ModelObjects,
        worker: Trainer,
        encoder: SentenceEncoder | None = None,
        publish: ProgressPublisher = _no_publisher,
        examples_trained: ExamplesTrained | None = None,
    ) -> None:
        self.models = models
        self._examples_trained = examples_trained
        self._store = store
        self._objects = objects
        self._worker = worker
        self._encoder = encoder
        self._publish = publish
        # Trainings take minutes of CPU: one at a time per replica, others wait their turn.
        self._training = asyncio.Lock()
        # Storing the key and swapping, or a watcher's compare-and-swap: never interleaved.
        self._swapping = asyncio.Lock()

    async def start(self) -> None:
        await self._store.watch(KIND, self._on_stored)

    async def train(
        self,
        tenant_id: str,
        examples: Mapping[str, Sequence[str]] | None,
        *,
        upload_job: str = "",
        threshold: float | None = None,
        target_recall: float | None = None,
    ) -> TrainedIntents:
        if threshold is not None and not math.isfinite(threshold):
            raise TrainingError(f"out_of_scope_threshold must be a finite number, got {threshold}")
        target = DEFAULT_TARGET_RECALL if target_recall is None else target_recall
        if not 0.0 < target < 1.0:
            raise TrainingError(f"target_out_of_scope_recall must be between 0 and 1, got {target}")
        if upload_job:
            if examples:
                raise TrainingError("give the training set either in the request or as an upload, not both")
            examples = await self._objects.take_upload(tenant_id, upload_job)
        prepared, _ = prepare_examples(examples or {})  # refuses a bad set before any work

        async def progress(stage: str, done: int, total: int) -> None:
            if upload_job:
                await self._publish(upload_job, stage, done, total)

        async with self._training:
            outcome = await self._worker.train(TrainingJob(prepared, threshold, target), progress)
        model = await self._put_in_effect(tenant_id, outcome)
        if self._examples_trained is not None:
            # The stored model keeps no sentences: the speech language model reads them from here.
            try:
                await self._examples_trained(tenant_id, prepared)
            except Exception as error:  # the model is in effect; only the speech vocabulary lags
                log.error("training examples of tenant %s not kept for speech: %r", tenant_id, error)
        return TrainedIntents(model, outcome)

    async def _put_in_effect(self, tenant_id: str, outcome: TrainingOutcome) -> IntentModel:
        model = outcome.model.attach(self._encoder)
        name = await self._objects.put_model(tenant_id, outcome.model)
        async with self._swapping:
            previous = await self._store.get_artifact(KIND, tenant_id)
            await self._store.put_artifact(
                KIND,
                tenant_id,
                {"version": outcome.model.version, "model": name, "threshold": outcome.model.threshold},
            )
            self.models.swap(tenant_id, model, "trained here")
        old_name = previous[0].get("model") if previous else None
        if old_name and old_name != name:
            await self._objects.forget(old_name)
        return model

    async def _on_stored(self, tenant_id: str, value: Any, revision: int) -> None:
        if "model" in value:
            async with self._swapping:
                current = self.models.current(tenant_id)
                if current is not None and current.version == value["version"]:
                    log.debug(
                        "intent model %s of tenant %s already in effect (revision %s)",
                        current.version,
                        tenant_id,
                        revision,
                        extra={"intent_model_current": tenant_id},
                    )
                    return
                try:
                    stored = await self._objects.model(value["model"])
                    model = stored.attach(self._encoder)
                except (StoreError, TrainingError) as error:
                    log.error(
                        "intent model of tenant %s not loaded (revision %s): %s", tenant_id, revision, error
                    )
                    return
                self.models.swap(tenant_id, model, f"loaded, revision {revision}")
            return
        await self._train_stored_examples(tenant_id, value, revision)

    async def _train_stored_examples(self, tenant_id: str, value: Any, revision: int) -> None:
        examples = value["examples"]
        threshold = float(value["threshold"])
        current = self.models.current(tenant_id)
        if current is not None and current.version == fingerprint(
            examples, threshold, kind_of(self._encoder)
        ):
            return
        async with self._training:
            outcome = await self._worker.train(
                TrainingJob(examples, threshold, DEFAULT_TARGET_RECALL), _ignore_progress
            )
        async with self._swapping:
            self.models.swap(tenant_id, outcome.model.attach(self._encoder), f"trained, revision {revision}")


async def _ignore_progress(stage: str, done: int, total: int) -> None:
    return None
