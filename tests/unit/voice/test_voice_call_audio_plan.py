"""What a call's audio is used for, by the endpoint's settings and the region's rules."""

from __future__ import annotations

import pytest

from gateway.domain.call_audio import CallAudioPlan, call_audio_plan


@pytest.mark.parametrize(
    ("media_streams", "record_calls", "may_transcribe", "may_record", "expected"),
    [
        # Streamed live: the recording need not be transcribed again.
        (True, True, True, True, CallAudioPlan(stream=True, record=True, transcribe_after=False)),
        # No live stream: the recording is transcribed after the call.
        (False, True, True, True, CallAudioPlan(stream=False, record=True, transcribe_after=True)),
        # Transcription refused (no consent): recorded, but never transcribed, live or after.
        (True, True, False, True, CallAudioPlan(stream=False, record=True, transcribe_after=False)),
        (False, True, False, True, CallAudioPlan(stream=False, record=True, transcribe_after=False)),
        # Recording refused: nothing recorded, the live stream as the rules allow.
        (True, True, True, False, CallAudioPlan(stream=True, record=False, transcribe_after=False)),
        (False, True, True, False, CallAudioPlan(stream=False, record=False, transcribe_after=False)),
        # An endpoint that records nothing.
        (True, False, True, True, CallAudioPlan(stream=True, record=False, transcribe_after=False)),
        (False, False, True, True, CallAudioPlan(stream=False, record=False, transcribe_after=False)),
    ],
)
def test_the_plan_follows_the_settings_and_the_rules(
    media_streams: bool, record_calls: bool, may_transcribe: bool, may_record: bool, expected: CallAudioPlan
) -> None:
    assert (
        call_audio_plan(
            media_streams=media_streams,
            record_calls=record_calls,
            may_transcribe=may_transcribe,
            may_record=may_record,
        )
        == expected
    )
