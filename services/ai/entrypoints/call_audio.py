"""The ai service's side of a call's media stream: `CallAudio` pieces from the gateway, handed
to live transcription.

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

from ai.service_layer.transcription import AudioPiece, CallTranscription
from ccmesh.naming import call_audio_wildcard
from contactcenter.ai.v1 import ai_pb2

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
