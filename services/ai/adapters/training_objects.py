"""The region's intent training object store: uploaded training sets and trained models.

Bucket `ai-training-<region>` (placed like the region's streams: the examples are the
tenant's data). Objects:

    uploads/<tenant>/<job>      a training set `ccctl` uploaded (see `ccmesh.intent_labels`);
                                deleted once read
    models/<tenant>/<version>   a trained intent model without its sentence encoder (pickle,
                                written only by the ai service); the KV key `intent.<tenant>`
                                names the one in effect, so replicas load it instead of training

The bucket has no TTL (it would expire models in effect too): the service deletes each
upload once read and each model once another replaced it.
"""

from __future__ import annotations

import contextlib
import pickle
import zlib

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from ai.adapters.tenant_store import StoreError, check_token
from ai.domain.intent import DetachedModel
from ccmesh.intent_labels import IntentLabelError, unpack_training_set, upload_object
from ccmesh.naming import ai_training_bucket
from ccmesh.stores import ensure_object_bucket


class TrainingObjects:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @classmethod
    async def open(
        cls, js: JetStreamContext, region: str, *, placement_tags: list[str], replicas: int = 1
    ) -> TrainingObjects:
        store = await ensure_object_bucket(
            js,
            ai_training_bucket(region),
            placement_tags=placement_tags,
            replicas=replicas,
            description="intent training sets and trained intent models",
        )
        return cls(store)

    async def take_upload(self, tenant_id: str, job: str) -> dict[str, list[str]]:
        """The training set uploaded for `job`, removed from the store; `StoreError` if absent
        or unreadable."""
        name = upload_object(check_token("tenant id", tenant_id), check_token("upload job", job))
        try:
            found = await self._store.get(name)
        except (ObjectNotFoundError, NotFoundError):
            raise StoreError(f"no uploaded training set {name!r} in the region's training store") from None
        try:
            return unpack_training_set(bytes(found.data or b""))
        except IntentLabelError as error:
            raise StoreError(str(error)) from None
        finally:
            await self.forget(name)

    async def put_model(self, tenant_id: str, model: DetachedModel) -> str:
        name = f"models/{check_token('tenant id', tenant_id)}/{model.version}"
        await self._store.put(name, zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), 1))
        return name

    async def model(self, name: str) -> DetachedModel:
        try:
            found = await self._store.get(name)
        except (ObjectNotFoundError, NotFoundError):
            raise StoreError(f"intent model {name!r} is not in the region's training store") from None
        # Only the ai service writes models/ (the bucket is the platform's, not the tenants').
        model = pickle.loads(zlib.decompress(bytes(found.data or b"")))  # noqa: S301
        if not isinstance(model, DetachedModel):
            raise StoreError(f"{name!r} does not hold an intent model")
        return model

    async def forget(self, name: str) -> None:
        with contextlib.suppress(ObjectNotFoundError, NotFoundError):
            await self._store.delete(name)
