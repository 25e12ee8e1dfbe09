"""Post-call transcription: a call recorded while no live media stream transcribed it is
transcribed from its recording once the gateway kept it (`RecordingStored` with
`transcribing`). The same segmenter, recogniser and announcements as a live call: the caller's
channel (the first) and the agent's (the second) become `TranscriptSegment`s of the recording's
stream id, the caller's words feed the AI pipeline, the agent's join the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ai.domain.speech_audio import recording_tracks
from ai.service_layer.transcription import AudioPiece, CallTranscription

#: A recording's channels in order, as Twilio names the live tracks.
CHANNEL_TRACKS = ("inbound", "outbound")


class RecordingReader(Protocol):
    """The region's recordings object store (`ai.adapters.speech_recordings.StoredRecordings`)."""

    async def read(self, bucket: str, name: str) -> bytes: ...


@dataclass(frozen=True)
class StoredRecording:
    tenant_id: str
    brand_id: str
    contact_id: str
    recording_sid: str
    bucket: str
    object: str
    language: str


class TranscribeRecording:
    def __init__(self, reader: RecordingReader, transcription: CallTranscription) -> None:
        self._reader = reader
        self._transcription = transcription

    async def __call__(self, recording: StoredRecording) -> None:
        """`RecordingAudioError` for audio that is no recording; a reader's error as it is."""
        tracks = recording_tracks(await self._reader.read(recording.bucket, recording.object))
        for track, samples in zip(CHANNEL_TRACKS, tracks, strict=False):
            piece = AudioPiece(
                tenant_id=recording.tenant_id,
                brand_id=recording.brand_id,
                contact_id=recording.contact_id,
                stream_id=recording.recording_sid,
                track=track,
                language=recording.language or "en",
                payload=b"",
                recorded=True,
            )
            await self._transcription.on_recording(piece, samples)
