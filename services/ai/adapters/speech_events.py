"""Transcript segments as `TranscriptSegment` events on the region's stream, and the redaction
policy for the text they carry; a call's transcription falling behind real time as a
`TranscriptionBehind` event and a count:

    contactcenter.ai.transcription.behind  counter  tracks of calls whose transcription fell
                                                    behind real time, per tenant and track
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.metrics import Meter

from ai.domain.speech import FellBehind, TranscriptSegmentFound
from ccmesh import telemetry
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.events.v1 import events_pb2

SOURCE = "ai"
#: Text -> text with personal data replaced (the pii component's redaction).
Redactor = Callable[[str], str]


def to_protobuf(
    segment: TranscriptSegmentFound, region: str, redact: Redactor | None = None
) -> events_pb2.Event:
    transcript = segment.transcript
    text = redact(transcript.text) if redact is not None and transcript.text else transcript.text
    return new_event(
        events_pb2.TranscriptSegment(
            stream_id=segment.stream_id,
            track=segment.track,
            start_seconds=segment.start_seconds,
            end_seconds=segment.end_seconds,
            text=text,
            confidence=transcript.confidence,
            language=transcript.language,
            transcribed=transcript.transcribed,
            reason=transcript.reason,
            sequence=segment.sequence,
        ),
        tenant_id=segment.tenant_id,
        brand_id=segment.brand_id,
        region=region,
        source=SOURCE,
        contact_id=segment.contact_id,
        # One event per segment, whatever retries happen on the way.
        event_id=f"ai-transcript-{segment.segment_id}",
    )


def behind_to_protobuf(lag: FellBehind, region: str, workers: int) -> events_pb2.Event:
    return new_event(
        events_pb2.TranscriptionBehind(
            stream_id=lag.stream_id, track=lag.track, waiting=lag.waiting, workers=workers
        ),
        tenant_id=lag.tenant_id,
        brand_id=lag.brand_id,
        region=region,
        source=SOURCE,
        contact_id=lag.contact_id,
        # Once per track of a stream, whatever retries happen on the way.
        event_id=f"ai-transcript-behind-{lag.stream_id}:{lag.track}",
    )


class TranscriptEvents:
    def __init__(
        self,
        events: EventPublisher,
        redact: Redactor | None = None,
        workers: int = 0,
        meter: Meter | None = None,
    ) -> None:
        self._events = events
        self._redact = redact
        self._workers = workers
        self._behind = (meter or telemetry.meter()).create_counter(
            "contactcenter.ai.transcription.behind",
            unit="{track}",
            description="Tracks of calls whose transcription fell behind real time",
        )

    async def publish(self, segment: TranscriptSegmentFound) -> None:
        await self._events.publish(to_protobuf(segment, self._events.region, self._redact))

    async def behind(self, lag: FellBehind) -> None:
        self._behind.add(1, {"tenant": lag.tenant_id, "track": lag.track})
        await self._events.publish(behind_to_protobuf(lag, self._events.region, self._workers))
