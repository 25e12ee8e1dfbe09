"""What happens to a call's audio, decided once when the call is answered: streamed for live
transcription, recorded, and whether the recording is transcribed after the call.

Transcription, live or after the call, needs the region's rules to allow it; a recording needs
them to allow recording. A recording is transcribed afterwards only where no live stream did it,
so a caller who refused transcription but not recording is recorded and never transcribed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallAudioPlan:
    stream: bool
    record: bool
    transcribe_after: bool


def call_audio_plan(
    *, media_streams: bool, record_calls: bool, may_transcribe: bool, may_record: bool
) -> CallAudioPlan:
    stream = media_streams and may_transcribe
    record = record_calls and may_record
    return CallAudioPlan(
        stream=stream, record=record, transcribe_after=record and may_transcribe and not stream
    )
