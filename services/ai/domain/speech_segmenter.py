"""Voice activity to utterances: where a caller starts and stops speaking, as audio streams in.

Frames of 8 kHz samples are classified speech / not speech by a voice activity detector (the
`is_speech` callable: the recogniser package's WebRTC-style detector in production, anything in
tests). An utterance starts when most of a short window is speech, keeps a little audio from
before that (a word's first consonant is quiet), and ends after `end_silence` seconds without
speech (the endpoint), or when it reaches `max_seconds` (a caller who never pauses still gets
transcripts). Offsets are seconds from the start of the stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ai.domain.speech_audio import TELEPHONE_RATE

#: 30 ms at 8 kHz: the frame length the detector classifies.
FRAME_SAMPLES = 240
FRAME_SECONDS = FRAME_SAMPLES / TELEPHONE_RATE

IsSpeech = Callable[[np.ndarray], bool]


@dataclass(frozen=True)
class Utterance:
    start_seconds: float
    end_seconds: float
    #: 8 kHz 16-bit samples, from a little before the start to the endpoint.
    samples: np.ndarray
    #: True when cut at `max_seconds` rather than at a pause.
    cut: bool = False


@dataclass(frozen=True)
class SegmenterSettings:
    #: Frames of the start window, and how many of them must be speech to start an utterance.
    start_window: int = 5
    start_voiced: int = 3
    #: Seconds without speech that end an utterance: longer waits out pauses between words,
    #: shorter gives the transcript sooner.
    end_silence: float = 0.45
    #: Seconds of audio kept from before the start.
    pre_roll: float = 0.3
    max_seconds: float = 15.0

    def __post_init__(self) -> None:
        if not 1 <= self.start_voiced <= self.start_window:
            raise ValueError(
                f"start_voiced must be 1..start_window, got {self.start_voiced}/{self.start_window}"
            )
        if self.end_silence <= 0 or self.max_seconds <= self.end_silence or self.pre_roll < 0:
            raise ValueError("end_silence must be > 0, max_seconds > end_silence, pre_roll >= 0")


class Segmenter:
    def __init__(self, is_speech: IsSpeech, settings: SegmenterSettings | None = None) -> None:
        self._is_speech = is_speech
        self.settings = settings or SegmenterSettings()
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames_seen = 0
        history = self.settings.start_window + round(self.settings.pre_roll / FRAME_SECONDS)
        self._recent: deque[tuple[np.ndarray, bool]] = deque(maxlen=history)
        self._speech: list[np.ndarray] | None = None
        self._start_frame = 0
        self._silent_frames = 0
        self._end_frames = max(1, round(self.settings.end_silence / FRAME_SECONDS))
        self._max_frames = round(self.settings.max_seconds / FRAME_SECONDS)

    @property
    def seconds(self) -> float:
        """Audio consumed so far (whole frames)."""
        return self._frames_seen * FRAME_SECONDS

    @property
    def in_speech(self) -> bool:
        return self._speech is not None

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        """8 kHz 16-bit samples, any length -> the utterances that ended within them."""
        audio = np.concatenate([self._pending, samples.astype(np.int16, copy=False)])
        whole = audio.size - audio.size % FRAME_SAMPLES
        self._pending = audio[whole:]
        ended: list[Utterance] = []
        for offset in range(0, whole, FRAME_SAMPLES):
            utterance = self._frame(audio[offset : offset + FRAME_SAMPLES])
            if utterance is not None:
                ended.append(utterance)
        return ended

    def finish(self) -> Utterance | None:
        """The stream ended: the utterance in progress, if any, ends here."""
        if self._speech is None:
            return None
        return self._close(cut=False, trailing_silence=0)

    def _frame(self, frame: np.ndarray) -> Utterance | None:
        voiced = bool(self._is_speech(frame))
        self._frames_seen += 1
        if self._speech is None:
            self._recent.append((frame, voiced))
            window = list(self._recent)[-self.settings.start_window :]
            if sum(1 for _, v in window if v) >= self.settings.start_voiced:
                first_voiced = next(i for i, (_, v) in enumerate(window) if v)
                self._start_frame = self._frames_seen - len(window) + first_voiced
                self._speech = [f for f, _ in self._recent]
                self._recent.clear()
                self._silent_frames = 0
            return None
        self._speech.append(frame)
        self._silent_frames = 0 if voiced else self._silent_frames + 1
        if self._silent_frames >= self._end_frames:
            return self._close(cut=False, trailing_silence=self._silent_frames)
        if self._frames_seen - self._start_frame >= self._max_frames:
            return self._close(cut=True, trailing_silence=0)
        return None

    def _close(self, cut: bool, trailing_silence: int) -> Utterance:
        assert self._speech is not None
        frames = self._speech
        self._speech = None
        self._silent_frames = 0
        end_frame = self._frames_seen - trailing_silence
        return Utterance(
            start_seconds=self._start_frame * FRAME_SECONDS,
            end_seconds=end_frame * FRAME_SECONDS,
            samples=np.concatenate(frames),
            cut=cut,
        )
