"""Endpointing: utterances found where the voice activity says speech starts and pauses."""

from __future__ import annotations

import numpy as np
import pytest

from ai.domain.speech_audio import TELEPHONE_RATE
from ai.domain.speech_segmenter import FRAME_SECONDS, Segmenter, SegmenterSettings


def loud(frame: np.ndarray) -> bool:
    return bool(np.abs(frame.astype(np.int32)).mean() > 500)


def sound(seconds: float) -> np.ndarray:
    return np.full(int(seconds * TELEPHONE_RATE), 2000, dtype=np.int16)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * TELEPHONE_RATE), dtype=np.int16)


def feed_in_twilio_frames(segmenter: Segmenter, audio: np.ndarray) -> list:
    found = []
    for offset in range(0, audio.size, 160):  # 20 ms frames, as a media stream sends them
        found += segmenter.feed(audio[offset : offset + 160])
    return found


def test_two_utterances_with_their_offsets() -> None:
    segmenter = Segmenter(loud)
    audio = np.concatenate([quiet(1.0), sound(1.2), quiet(1.0), sound(0.6), quiet(1.0)])
    found = feed_in_twilio_frames(segmenter, audio)
    assert len(found) == 2
    first, second = found
    assert first.start_seconds == pytest.approx(1.0, abs=FRAME_SECONDS)
    assert first.end_seconds == pytest.approx(2.2, abs=FRAME_SECONDS)
    assert second.start_seconds == pytest.approx(3.2, abs=FRAME_SECONDS)
    assert second.end_seconds == pytest.approx(3.8, abs=FRAME_SECONDS)
    # Audio from a little before the start is kept (a word's first consonant is quiet).
    assert first.samples.size / TELEPHONE_RATE >= 1.2 + 0.25
    assert not first.cut and segmenter.finish() is None


def test_a_short_pause_inside_an_utterance_does_not_end_it() -> None:
    segmenter = Segmenter(loud, SegmenterSettings(end_silence=0.45))
    audio = np.concatenate([sound(0.5), quiet(0.2), sound(0.5), quiet(0.6)])
    found = feed_in_twilio_frames(segmenter, audio)
    assert len(found) == 1
    assert found[0].end_seconds == pytest.approx(1.2, abs=FRAME_SECONDS)


def test_a_click_is_not_an_utterance() -> None:
    segmenter = Segmenter(loud)
    assert feed_in_twilio_frames(segmenter, np.concatenate([quiet(0.5), sound(0.03), quiet(1.0)])) == []


def test_endless_speech_is_cut_at_the_maximum_and_the_rest_follows() -> None:
    segmenter = Segmenter(loud, SegmenterSettings(max_seconds=2.0))
    found = feed_in_twilio_frames(segmenter, sound(5.0))
    assert [u.cut for u in found] == [True, True]
    assert found[0].end_seconds == pytest.approx(2.0, abs=2 * FRAME_SECONDS)
    last = segmenter.finish()
    assert last is not None and not last.cut
    assert last.end_seconds == pytest.approx(5.0, abs=FRAME_SECONDS)


def test_the_stream_ending_mid_utterance_keeps_it() -> None:
    segmenter = Segmenter(loud)
    assert feed_in_twilio_frames(segmenter, np.concatenate([quiet(0.3), sound(0.8)])) == []
    assert segmenter.in_speech
    last = segmenter.finish()
    assert last is not None
    assert last.start_seconds == pytest.approx(0.3, abs=FRAME_SECONDS)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"start_voiced": 6, "start_window": 5}, "start_voiced"),
        ({"end_silence": 0}, "end_silence"),
        ({"max_seconds": 0.1}, "max_seconds"),
    ],
)
def test_impossible_settings_are_named(settings: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SegmenterSettings(**settings)
