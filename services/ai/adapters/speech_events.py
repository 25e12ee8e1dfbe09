"""Transcript segments as `TranscriptSegment` events on the region's stream, and the redaction
policy for the text they carry."""

from __future__ import annotations

from collections.abc import Callable

from ai.domain.speech import TranscriptSegmentFound
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


class TranscriptEvents:
    def __init__(self, events: EventPublisher, redact: Redactor | None = None) -> None:
        self._events = events
        self._redact = redact

    async def publish(self, segment: TranscriptSegmentFound) -> None:
        await self._events.publish(to_protobuf(segment, self._events.region, self._redact))
