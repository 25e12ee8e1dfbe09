"""Call recordings read from the region's recordings object store (`recordings-<region>`,
written by the gateway). Only that bucket is read: an event naming another is refused."""

from __future__ import annotations

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError

from ccmesh.naming import recordings_bucket


class RecordingNotFound(LookupError):
    """The recording is not (or no longer) in the store: expired or erased."""


class StoredRecordings:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self.bucket = recordings_bucket(region)

    async def read(self, bucket: str, name: str) -> bytes:
        if bucket != self.bucket:
            raise RecordingNotFound(f"bucket {bucket[:60]!r} is not this region's recordings store")
        try:
            store = await self._js.object_store(self.bucket)
            found = await store.get(name)
        except (ObjectNotFoundError, NotFoundError):
            raise RecordingNotFound(f"recording {name[:120]!r} is not in {self.bucket}") from None
        return bytes(found.data or b"")
