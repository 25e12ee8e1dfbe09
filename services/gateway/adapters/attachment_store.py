"""Bytes of customers' attachments in the region's JetStream object store, named by content hash.

Bucket `attachments-<region>` is placed like the region's streams (the files are personal
data and stay in the region); object `<tenant>/<sha256>`, so the same file sent twice (a
provider's retry) is stored once. Events carry only the reference.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from ccmesh.naming import attachments_bucket
from ccmesh.stores import ensure_object_bucket
from gateway.domain.inbound import Attachment


class AttachmentStore:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self._store = store
        self.bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, region: str, *, placement_tags: list[str], replicas: int
    ) -> AttachmentStore:
        bucket = attachments_bucket(region)
        store = await ensure_object_bucket(js, bucket, placement_tags=placement_tags, replicas=replicas)
        return cls(store, bucket)

    async def keep(
        self, tenant_id: str, filename: str, content_type: str, data: bytes, sha256: str
    ) -> Attachment:
        name = f"{tenant_id}/{sha256}"
        try:
            await self._store.get_info(name)
        except (ObjectNotFoundError, NotFoundError):
            await self._store.put(name, data)
        return Attachment(
            filename=filename,
            content_type=content_type,
            size=len(data),
            sha256=sha256,
            bucket=self.bucket,
            object=name,
        )

    async def read(self, name: str) -> bytes:
        result = await self._store.get(name)
        return bytes(result.data or b"")
