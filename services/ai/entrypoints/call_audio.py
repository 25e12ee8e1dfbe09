"""The ai service's side of a call's media stream: `CallAudio` pieces from the gateway, handed
to live transcription; and the recordings kept without a live stream (`RecordingStored`
events), transcribed after the call.

Subscribed in a queue group. A stream's pieces must all reach the same replica (its segmenter
keeps state), which holds with one ai replica per region; spreading one region's calls over
several replicas needs the subject partitioned by replica, which this does not do yet.
"""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from ai.adapters.speech_recordings import RecordingNotFound
from ai.domain.speech_audio import RecordingAudioError
from ai.service_layer.transcription import AudioPiece, CallTranscription
from ai.service_layer.transcription_recordings import StoredRecording, TranscribeRecording
from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, PermanentError
from ccmesh.naming import call_audio_wildcard
from contactcenter.ai.v1 import ai_pb2
from contactcenter.events.v1 import events_pb2

log = logging.getLogger(__name__)
QUEUE_GROUP = "ai-speech"


def audio_piece(data: bytes) -> AudioPiece:
    audio = ai_pb2.CallAudio()
    audio.ParseFromString(data)
    if not (audio.tenant_id and audio.contact_id and audio.stream_id):
        raise ValueError("call audio without tenant, contact or stream")
    return AudioPiece(
        tenant_id=audio.tenant_id,
        brand_id=audio.brand_id,
        contact_id=audio.contact_id,
        stream_id=audio.stream_id,
        track=audio.track,
        language=audio.language or "en",
        payload=audio.payload,
        end=audio.end,
    )


async def subscribe_call_audio(nc: Client, region: str, transcription: CallTranscription) -> Subscription:
    async def take(msg: Msg) -> None:
        try:
            await transcription.on_audio(audio_piece(msg.data))
        except (DecodeError, ValueError) as error:
            log.warning("call audio on %s refused: %s", msg.subject, error)

    return await nc.subscribe(call_audio_wildcard(region), queue=QUEUE_GROUP, cb=take)


RECORDINGS_DURABLE = "ai-recordings"


def stored_recording(event: events_pb2.Event) -> StoredRecording:
    stored = event.recording_stored
    return StoredRecording(
        tenant_id=event.tenant.tenant_id,
        brand_id=event.tenant.brand_id,
        contact_id=event.contact_id,
        recording_sid=stored.recording_sid,
        bucket=stored.bucket,
        object=stored.object,
        language=stored.language,
    )


def recording_consumer(
    js: object, region: str, transcribe: TranscribeRecording
) -> DurableConsumer[events_pb2.Event]:
    """Recordings kept while no live stream transcribed the call, transcribed one at a time."""

    async def handle(event: events_pb2.Event) -> None:
        if not event.recording_stored.transcribing:
            return  # a live media stream transcribed this call already
        try:
            await transcribe(stored_recording(event))
        except (RecordingAudioError, RecordingNotFound, ValueError) as error:
            # The same recording never becomes readable: dead-lettered with the reason.
            raise PermanentError(str(error)) from None

    settings = ConsumerSettings(
        durable=RECORDINGS_DURABLE,
        filter_subject=naming.event_subject(region, "*", "recording_stored", "*"),
        # A long recording takes a while to decode; segments have fixed ids, so a redelivery
        # announces nothing twice.
        ack_wait_seconds=900.0,
        max_deliver=3,
        batch=1,
    )
    return DurableConsumer(js, region, settings, handle)  # type: ignore[arg-type]
