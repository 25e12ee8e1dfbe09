"""Per-tenant intent models: train, store, and swap on every replica without a restart.

`TrainIntents` trains here first (so a bad training set fails the call and nothing already
in effect is touched), then stores the training set; every replica's watcher trains the same
model from it (deterministically) and swaps it in. A replica that already holds that
version skips the retraining. Other tenants' models are never touched.

With a sentence encoder (the model package installed) models get the accurate second stage
(see `ai.domain.intent`); training then also embeds every example, about 6 ms each on one
core, so 15,000 examples take a couple of minutes.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ai.adapters.tenant_store import TenantStore
from ai.domain.component import SentenceEncoder
from ai.domain.intent import (
    DEFAULT_THRESHOLD,
    IntentModel,
    TrainingError,
    TrainingReport,
    fingerprint,
    kind_of,
    validate_examples,
)

log = logging.getLogger(__name__)
KIND = "intent"


class IntentModels:
    """The intent model in effect per tenant (the `IntentModels` the intent component reads)."""

    def __init__(self) -> None:
        self._models: dict[str, IntentModel] = {}

    def current(self, tenant_id: str) -> IntentModel | None:
        return self._models.get(tenant_id)

    def swap(self, tenant_id: str, model: IntentModel) -> None:
        self._models[tenant_id] = model  # one assignment: readers see the old or the new model


class IntentTraining:
    def __init__(
        self, models: IntentModels, store: TenantStore, encoder: SentenceEncoder | None = None
    ) -> None:
        self.models = models
        self._store = store
        self._encoder = encoder
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._store.watch(KIND, self._on_stored)

    async def train(
        self, tenant_id: str, examples: Mapping[str, Sequence[str]], threshold: float | None
    ) -> tuple[IntentModel, TrainingReport]:
        report = validate_examples(examples)  # raises TrainingError naming the problem
        chosen = DEFAULT_THRESHOLD if threshold is None else threshold
        if not math.isfinite(chosen):
            raise TrainingError(f"out_of_scope_threshold must be a finite number, got {chosen}")
        model = await asyncio.to_thread(IntentModel.train, examples, threshold=chosen, encoder=self._encoder)
        await self._store.put_artifact(
            KIND, tenant_id, {"examples": {k: list(v) for k, v in examples.items()}, "threshold": chosen}
        )
        self.models.swap(tenant_id, model)
        return model, report

    async def _on_stored(self, tenant_id: str, value: Any, revision: int) -> None:
        examples = value["examples"]
        threshold = float(value["threshold"])
        async with self._lock:  # one training at a time: CPU is shared with live traffic
            current = self.models.current(tenant_id)
            if current is not None and current.version == fingerprint(
                examples, threshold, kind_of(self._encoder)
            ):
                return
            model = await asyncio.to_thread(
                IntentModel.train, examples, threshold=threshold, encoder=self._encoder
            )
        self.models.swap(tenant_id, model)
        log.info("intent model %s of tenant %s in effect (revision %s)", model.version, tenant_id, revision)
