"""The speech recogniser contract: 16 kHz audio of one utterance in, a transcript out.

A recogniser is an AI component like the others (entry-point group
`contactcenter.ai.components`, built as `factory(settings, context)`), whose `spec` consumes
`audio` and produces `transcript`: no text pipeline can run it (nothing before it produces
audio), the transcription service does. A third party ships another recogniser the same way
and names it in the ai service's settings.

A recogniser declares its languages; asked for another, it answers an explicit
`no_transcription` result saying why, rather than guessing words in the wrong language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ai.domain.component import ComponentSpec

#: What a recogniser consumes and produces (names outside the text pipelines' fields on purpose).
AUDIO = "audio"
TRANSCRIPT = "transcript"


@dataclass(frozen=True)
class Transcript:
    text: str
    #: 0..1: the recogniser's posterior for its best hypothesis.
    confidence: float
    language: str
    #: False: the recogniser did not transcribe this audio; `reason` says why.
    transcribed: bool = True
    reason: str = ""
    #: Seconds of audio and of decoding (real-time factor = decode / audio).
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0


def no_transcription(language: str, languages: frozenset[str]) -> Transcript:
    return Transcript(
        text="",
        confidence=0.0,
        language=language,
        transcribed=False,
        reason=f"no transcription for language {language!r}: the recogniser speaks {sorted(languages)}",
    )


class Recogniser(Protocol):
    spec: ComponentSpec

    def set_vocabulary(self, tenant_id: str, sentences: Sequence[str]) -> int:
        """Bias the tenant's transcripts toward these sentences (its intents' examples, knowledge
        base, phrase list); returns the words kept. An empty list returns to the general model."""
        ...

    def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript:
        """One utterance of 16 kHz 16-bit mono samples."""
        ...


def is_recogniser(component: object) -> bool:
    spec = getattr(component, "spec", None)
    return (
        isinstance(spec, ComponentSpec)
        and AUDIO in spec.consumes
        and callable(getattr(component, "transcribe", None))
        and callable(getattr(component, "set_vocabulary", None))
    )


#: Twilio's track names -> who speaks on them.
SPEAKERS = {"inbound": "caller", "outbound": "agent"}


@dataclass(frozen=True)
class TranscriptSegmentFound:
    """One utterance of a call's stream, transcribed (or explicitly not): the event's content."""

    tenant_id: str
    brand_id: str
    contact_id: str
    stream_id: str
    #: "caller" or "agent".
    track: str
    start_seconds: float
    end_seconds: float
    transcript: Transcript
    #: Order within the stream and track, from 1.
    sequence: int

    @property
    def segment_id(self) -> str:
        return f"{self.stream_id}:{self.track}:{self.sequence}"


@dataclass(frozen=True)
class FellBehind:
    """A track of a call whose utterances queue up faster than the recogniser decodes them."""

    tenant_id: str
    brand_id: str
    contact_id: str
    stream_id: str
    #: "caller" or "agent".
    track: str
    #: Utterances waiting for the recogniser when it was noticed.
    waiting: int
