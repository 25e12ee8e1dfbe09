"""Live transcription of a call's audio: segments in order per track, the caller's words into
the AI pipeline, failures reported without losing the rest (recogniser and sink faked)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ai.domain.speech import FellBehind, Transcript, TranscriptSegmentFound
from ai.domain.speech_audio import TELEPHONE_RATE, pcm16_to_ulaw
from ai.domain.speech_segmenter import FRAME_SECONDS, Segmenter
from ai.service_layer.transcription import BEHIND_AFTER, AudioPiece, CallTranscription


def loud(frame: np.ndarray) -> bool:
    return bool(np.abs(frame.astype(np.int32)).mean() > 500)


def audio(*parts: tuple[str, float]) -> bytes:
    samples = [
        np.full(int(seconds * TELEPHONE_RATE), 3000 if kind == "talk" else 0, dtype=np.int16)
        for kind, seconds in parts
    ]
    return pcm16_to_ulaw(np.concatenate(samples))


class Recogniser:
    def __init__(self) -> None:
        self.calls = 0
        self.vocabulary: dict[str, tuple[str, ...]] = {}
        self.fail_on: set[int] = set()
        self.gate: asyncio.Event | None = None

    def set_vocabulary(self, tenant_id: str, sentences) -> None:
        self.vocabulary[tenant_id] = tuple(sentences)

    async def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript:
        if self.gate is not None:
            await self.gate.wait()
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("worker lost")
        return Transcript(text=f"words {self.calls}", confidence=0.9, language=language, audio_seconds=1.0)


class Sink:
    def __init__(self) -> None:
        self.segments: list[TranscriptSegmentFound] = []

    async def publish(self, segment: TranscriptSegmentFound) -> None:
        self.segments.append(segment)


class Insights:
    def __init__(self) -> None:
        self.messages = []

    async def on_message(self, message) -> None:
        self.messages.append(message)


class AgentTurns:
    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str, str, str]] = []

    async def record_reply(
        self, tenant_id: str, contact_id: str, message_id: str, text: str, speaker: str
    ) -> None:
        self.turns.append((tenant_id, contact_id, message_id, text, speaker))


class Lag:
    def __init__(self, fail: bool = False) -> None:
        self.reports: list[FellBehind] = []
        self.fail = fail

    async def behind(self, lag: FellBehind) -> None:
        self.reports.append(lag)
        if self.fail:
            raise ConnectionError("nats away")


class Vocabulary:
    async def sentences(self, tenant_id: str) -> list[str]:
        return [f"phrases of {tenant_id}"]


def piece(payload: bytes, track: str = "inbound", end: bool = False) -> AudioPiece:
    return AudioPiece("t1", "b1", "c1", "MZ1", track, "en", payload, end)


async def stream(transcription: CallTranscription, call: bytes, track: str = "inbound") -> None:
    for offset in range(0, len(call), 160):
        await transcription.on_audio(piece(call[offset : offset + 160], track))
    await transcription.on_audio(piece(b"", track, end=True))


async def settled(sink: Sink, count: int) -> None:
    for _ in range(1000):
        if len(sink.segments) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(sink.segments)} segments, expected {count}")


@pytest.fixture
def parts() -> tuple[Recogniser, Sink, Insights]:
    return Recogniser(), Sink(), Insights()


def transcription_of(parts, vocabulary=None, agent_turns=None, lag=None) -> CallTranscription:
    recogniser, sink, insights = parts
    return CallTranscription(
        recogniser, sink, lambda: Segmenter(loud), insights, vocabulary, agent_turns=agent_turns, lag=lag
    )


async def test_both_tracks_in_order_with_offsets_and_the_caller_feeds_the_pipeline(parts) -> None:
    recogniser, sink, insights = parts
    transcription = transcription_of(parts, Vocabulary())
    call = audio(("quiet", 0.5), ("talk", 1.0), ("quiet", 1.0), ("talk", 0.8), ("quiet", 0.2))
    await stream(transcription, call, "inbound")
    await stream(transcription, audio(("quiet", 0.2), ("talk", 0.5), ("quiet", 0.6)), "outbound")
    await settled(sink, 3)
    caller = [s for s in sink.segments if s.track == "caller"]
    agent = [s for s in sink.segments if s.track == "agent"]
    assert [s.sequence for s in caller] == [1, 2] and [s.sequence for s in agent] == [1]
    assert caller[0].start_seconds == pytest.approx(0.5, abs=FRAME_SECONDS)
    assert caller[0].end_seconds == pytest.approx(1.5, abs=FRAME_SECONDS)
    assert caller[1].start_seconds == pytest.approx(2.5, abs=FRAME_SECONDS)
    # The stream ended mid-utterance: the last one still ends there.
    assert caller[1].end_seconds == pytest.approx(3.5, abs=FRAME_SECONDS)
    assert {s.contact_id for s in sink.segments} == {"c1"}
    # Only the caller's words are customer messages for the AI pipeline, as in chat.
    assert [m.message_id for m in insights.messages] == ["MZ1:caller:1", "MZ1:caller:2"]
    assert {m.channel.value for m in insights.messages} == {"voice"}
    assert recogniser.vocabulary == {"t1": ("phrases of t1",)}
    assert transcription.open_tracks == 0


async def test_a_lost_utterance_is_reported_and_the_next_still_transcribed(parts) -> None:
    recogniser, sink, _ = parts
    recogniser.fail_on = {1}
    transcription = transcription_of(parts)
    await stream(transcription, audio(("talk", 0.6), ("quiet", 0.6), ("talk", 0.6), ("quiet", 0.6)))
    await settled(sink, 2)
    first, second = sink.segments
    assert not first.transcript.transcribed and "worker lost" in first.transcript.reason
    assert second.transcript.text == "words 2" and second.sequence == 2


async def test_a_track_behind_real_time_is_reported_and_nothing_dropped(parts) -> None:
    recogniser, sink, _ = parts
    recogniser.gate = asyncio.Event()
    transcription = transcription_of(parts)
    utterances = BEHIND_AFTER + 2
    await stream(transcription, audio(*[("talk", 0.3), ("quiet", 0.6)] * utterances))
    assert transcription.behind == {"MZ1"}
    recogniser.gate.set()
    await settled(sink, utterances)
    assert [s.sequence for s in sink.segments] == list(range(1, utterances + 1))


async def test_an_unknown_track_is_refused_by_name(parts) -> None:
    with pytest.raises(ValueError, match="unknown track 'both'"):
        await transcription_of(parts).on_audio(piece(b"\xff" * 160, "both"))


async def test_stopping_transcribes_what_is_buffered(parts) -> None:
    _, sink, _ = parts
    transcription = transcription_of(parts)
    await transcription.on_audio(piece(audio(("quiet", 0.2), ("talk", 0.6))))
    assert sink.segments == []
    await transcription.stop()
    assert len(sink.segments) == 1 and transcription.open_tracks == 0


async def test_what_the_agent_says_joins_the_conversation_as_agent_turns(parts) -> None:
    _, sink, insights = parts
    turns = AgentTurns()
    transcription = transcription_of(parts, agent_turns=turns)
    await stream(transcription, audio(("talk", 0.6), ("quiet", 0.6)), "inbound")
    await stream(
        transcription, audio(("talk", 0.6), ("quiet", 0.6), ("talk", 0.6), ("quiet", 0.6)), "outbound"
    )
    await settled(sink, 3)
    # The agent's words are the conversation's agent side (for the summary and ticket), never
    # customer messages with intents and moods of their own.
    assert [(t[2], t[4]) for t in turns.turns] == [("MZ1:agent:1", "agent"), ("MZ1:agent:2", "agent")]
    assert {t[:2] for t in turns.turns} == {("t1", "c1")}
    assert [m.message_id for m in insights.messages] == ["MZ1:caller:1"]


@pytest.mark.parametrize("fail", [False, True])
async def test_falling_behind_is_announced_once_per_track_and_nothing_dropped(parts, fail: bool) -> None:
    recogniser, sink, _ = parts
    recogniser.gate = asyncio.Event()
    lag = Lag(fail=fail)
    transcription = transcription_of(parts, lag=lag)
    utterances = BEHIND_AFTER + 3
    await stream(transcription, audio(*[("talk", 0.3), ("quiet", 0.6)] * utterances))
    # A report that cannot be sent loses the report, never the audio.
    assert lag.reports == [FellBehind("t1", "b1", "c1", "MZ1", "caller", BEHIND_AFTER + 1)]
    recogniser.gate.set()
    await settled(sink, utterances)
    assert [s.sequence for s in sink.segments] == list(range(1, utterances + 1))


async def test_a_recording_transcribed_after_the_call_is_never_behind_and_fully_transcribed(parts) -> None:
    recogniser, sink, _ = parts
    recogniser.gate = asyncio.Event()
    lag = Lag()
    transcription = transcription_of(parts, lag=lag)
    utterances = BEHIND_AFTER + 3
    call = audio(*[("talk", 0.3), ("quiet", 0.6)] * utterances)
    # A recording arrives as fast as it is read, far ahead of the recogniser: that is not a lag.
    await transcription.on_audio(AudioPiece("t1", "b1", "c1", "RE1", "inbound", "en", call, recorded=True))
    await transcription.on_audio(
        AudioPiece("t1", "b1", "c1", "RE1", "inbound", "en", b"", end=True, recorded=True)
    )
    assert lag.reports == [] and transcription.behind == set()
    recogniser.gate.set()
    await settled(sink, utterances)
    assert [s.sequence for s in sink.segments] == list(range(1, utterances + 1))
