"""Call recordings: the provider's copy fetched over HTTP (the account's credentials, a size
limit, a deadline), kept in the region's `recordings-<region>` object store (placed like the
streams, limits from the retention table's `recordings` row), and announced as
`RecordingStored` events."""

from __future__ import annotations

import aiohttp
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.naming import recordings_bucket
from ccmesh.stores import ensure_object_bucket
from contactcenter.events.v1 import events_pb2
from gateway.domain.recording_audio import MAX_RECORDING_BYTES
from gateway.domain.recording_callback import RecordingKept

SOURCE = "gateway"
FETCH_SECONDS = 120.0


class RecordingFetchError(RuntimeError):
    """The provider did not hand the recording over; the text says how it failed."""


class ProviderRecordings:
    """Its HTTP session is opened with the first recording (most gateways never fetch one)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, account_sid: str, auth_token: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=FETCH_SECONDS)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(
                url, auth=aiohttp.BasicAuth(account_sid, auth_token), timeout=timeout
            ) as response:
                if response.status != 200:
                    raise RecordingFetchError(f"the provider answered {response.status} for the recording")
                data = bytearray()
                async for piece in response.content.iter_chunked(64 * 1024):
                    data += piece
                    if len(data) > MAX_RECORDING_BYTES:
                        raise RecordingFetchError(f"recording over the {MAX_RECORDING_BYTES}-byte limit")
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RecordingFetchError(f"the recording could not be fetched: {error!r}") from None


class RecordingBucket:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self._store = store
        self.bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, region: str, *, placement_tags: list[str], replicas: int
    ) -> RecordingBucket:
        bucket = recordings_bucket(region)
        store = await ensure_object_bucket(js, bucket, placement_tags=placement_tags, replicas=replicas)
        return cls(store, bucket)

    async def keep(self, name: str, data: bytes) -> None:
        # A provider's retried callback names the same recording: it is kept once, and never
        # rewritten while the ai service may be reading it.
        try:
            await self._store.get_info(name)
        except (ObjectNotFoundError, NotFoundError):
            await self._store.put(name, data)


def recording_event(kept: RecordingKept, region: str) -> events_pb2.Event:
    return new_event(
        events_pb2.RecordingStored(
            recording_sid=kept.recording_sid,
            call_sid=kept.call_sid,
            bucket=kept.bucket,
            object=kept.object,
            size=kept.size,
            duration_seconds=kept.duration_seconds,
            channels=kept.channels,
            transcribing=kept.transcribing,
            language=kept.language,
        ),
        tenant_id=kept.tenant_id,
        brand_id=kept.brand_id,
        region=region,
        source=SOURCE,
        contact_id=kept.contact_id,
        # One event per recording, whatever the provider's callback retries.
        event_id=f"gateway-recording-{kept.recording_sid}",
    )


class RecordingEvents:
    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    async def stored(self, kept: RecordingKept) -> None:
        await self._events.publish(recording_event(kept, self._events.region))
