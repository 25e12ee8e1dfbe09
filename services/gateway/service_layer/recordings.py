"""Keep a call's recording: fetched from the provider when it completed, stored in the region's
recordings object store under the contact, announced (`RecordingStored`); transcribed after the
call by the ai service when no live media stream transcribed it.

A provider retrying its callback stores the same object again under the same name and
announces the same event id: one recording, whatever the retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.domain.recording_audio import recording_format
from gateway.domain.recording_callback import RecordingCompleted, RecordingKept


class RecordingMedia(Protocol):
    """The provider's copy of the audio (`gateway.adapters.recording_store.ProviderRecordings`)."""

    async def fetch(self, url: str, account_sid: str, auth_token: str) -> bytes: ...


class RecordingObjects(Protocol):
    """The region's recordings object store (`gateway.adapters.recording_store.RecordingBucket`)."""

    bucket: str

    async def keep(self, name: str, data: bytes) -> None: ...


class RecordingAnnouncer(Protocol):
    async def stored(self, kept: RecordingKept) -> None: ...


@dataclass(frozen=True)
class RecordingEndpoint:
    """What the endpoint the call came on says about it."""

    tenant_id: str
    brand_id: str
    language: str
    account_sid: str
    auth_token: str


class KeepRecording:
    def __init__(
        self, media: RecordingMedia, objects: RecordingObjects, announcer: RecordingAnnouncer
    ) -> None:
        self._media = media
        self._objects = objects
        self._announcer = announcer

    async def __call__(self, endpoint: RecordingEndpoint, completed: RecordingCompleted) -> RecordingKept:
        """`RecordingAudioError` when the provider's file is no recording we can keep."""
        data = await self._media.fetch(completed.media_url, endpoint.account_sid, endpoint.auth_token)
        found = recording_format(data)
        name = f"{endpoint.tenant_id}/{completed.contact_id}/{completed.recording_sid}.wav"
        await self._objects.keep(name, data)
        kept = RecordingKept(
            tenant_id=endpoint.tenant_id,
            brand_id=endpoint.brand_id,
            contact_id=completed.contact_id,
            recording_sid=completed.recording_sid,
            call_sid=completed.call_sid,
            bucket=self._objects.bucket,
            object=name,
            size=len(data),
            duration_seconds=found.seconds,
            channels=found.channels,
            transcribing=completed.transcribe_after,
            language=endpoint.language,
        )
        await self._announcer.stored(kept)
        return kept
