"""What intent training needs from the world, as Protocols (the real ones are in `adapters/`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ai.adapters.training_worker import TrainingJob, TrainingOutcome
from ai.domain.intent import DetachedModel

ArtifactCallback = Callable[[str, Any, int], Awaitable[None]]
ProgressSink = Callable[[str, int, int], Awaitable[None]]


class Artifacts(Protocol):
    """Per-tenant artifacts in the region's KV bucket, watched by every replica (`TenantStore`)."""

    async def get_artifact(self, kind: str, tenant_id: str) -> tuple[Any, int] | None: ...
    async def put_artifact(self, kind: str, tenant_id: str, value: Any) -> int: ...
    async def watch(self, kind: str, callback: ArtifactCallback) -> None: ...


class ModelObjects(Protocol):
    """Uploaded training sets and trained models (`TrainingObjects`)."""

    async def take_upload(self, tenant_id: str, job: str) -> dict[str, list[str]]: ...
    async def put_model(self, tenant_id: str, model: DetachedModel) -> str: ...
    async def model(self, name: str) -> DetachedModel: ...
    async def forget(self, name: str) -> None: ...


class Trainer(Protocol):
    """Runs one training away from the service's event loop (`TrainingWorker`)."""

    async def train(self, job: TrainingJob, progress: ProgressSink) -> TrainingOutcome: ...
