"""Live transcription of calls: a call's audio in, `TranscriptSegment`s out, in order per track.

Audio arrives in pieces per (stream, track) as the gateway's media stream relays them. Each
track has its own segmenter (voice activity and endpointing); every utterance it ends is
decoded by the recogniser (a process pool, off the event loop) and announced. What the caller
says also enters the live AI pipeline exactly as a chat message does (sentiment trend, intent,
escalation, agent assist). Utterances of one track are decoded one after another, so segments
keep their order; tracks and calls run in parallel, up to the pool's size.

What the agent says joins the conversation as the agent's turns (as an agent's chat reply
does), so the wrap-up summary and ticket cover both sides of the call.

A track whose utterances queue up faster than the recogniser decodes them is behind real time:
it is reported (`behind`, logged, and announced once per track through `LagReport`: an event
and a metric), and every utterance is still transcribed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ai.domain.speech import SPEAKERS, FellBehind, Transcript, TranscriptSegmentFound
from ai.domain.speech_audio import RECOGNISER_RATE, TELEPHONE_RATE, resample, ulaw_to_pcm16
from ai.domain.speech_segmenter import Segmenter, Utterance
from ai.service_layer.streaming import InboundMessage, StreamInsights
from ccmesh.channels import Channel

log = logging.getLogger(__name__)
#: Utterances waiting for the recogniser on one track beyond which the track is behind real time.
BEHIND_AFTER = 3


class Recognition(Protocol):
    """Decodes an utterance (`ai.adapters.speech_pool.SpeechPool`)."""

    def set_vocabulary(self, tenant_id: str, sentences: Sequence[str]) -> None: ...

    async def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript: ...


class VocabularySource(Protocol):
    """A tenant's texts for its language model: intents' examples, knowledge base, phrases
    (`ai.service_layer.transcription_vocabulary.StoredVocabulary`)."""

    async def sentences(self, tenant_id: str) -> Sequence[str]: ...


class TranscriptSink(Protocol):
    """Announces a segment (`ai.adapters.speech_events.TranscriptEvents`)."""

    async def publish(self, segment: TranscriptSegmentFound) -> None: ...


class AgentTurns(Protocol):
    """Keeps what the agent said in the contact's conversation (`Analyzer.record_reply`)."""

    async def record_reply(
        self, tenant_id: str, contact_id: str, message_id: str, text: str, speaker: str
    ) -> None: ...


class LagReport(Protocol):
    """Tells that a track fell behind real time (`ai.adapters.speech_events.TranscriptEvents`)."""

    async def behind(self, lag: FellBehind) -> None: ...


@dataclass(frozen=True)
class AudioPiece:
    tenant_id: str
    brand_id: str
    contact_id: str
    stream_id: str
    #: Twilio's track name: "inbound" or "outbound".
    track: str
    language: str
    #: 8 kHz μ-law.
    payload: bytes
    #: The stream stopped: what is buffered ends here.
    end: bool = False
    #: A recording transcribed after the call: it arrives faster than real time on purpose.
    recorded: bool = False


@dataclass
class _Track:
    segmenter: Segmenter
    queue: asyncio.Queue[Utterance | None] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    sequence: int = 0
    behind: bool = False


def _track_key(piece: AudioPiece) -> tuple[str, str]:
    if piece.track not in SPEAKERS:
        raise ValueError(f"track: unknown track {piece.track[:20]!r}")
    return piece.stream_id, piece.track


class CallTranscription:
    def __init__(
        self,
        recognition: Recognition,
        sink: TranscriptSink,
        segmenter: Callable[[], Segmenter],
        insights: StreamInsights | None = None,
        vocabulary: VocabularySource | None = None,
        agent_turns: AgentTurns | None = None,
        lag: LagReport | None = None,
    ) -> None:
        self._recognition = recognition
        self._agent_turns = agent_turns
        self._lag = lag
        self._vocabulary = vocabulary
        self._sink = sink
        self._segmenter = segmenter
        self._insights = insights
        self._tracks: dict[tuple[str, str], _Track] = {}
        #: Streams that fell behind real time at least once.
        self.behind: set[str] = set()

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)

    async def on_recording(self, piece: AudioPiece, samples: np.ndarray) -> None:
        """One whole track of a recorded call (8 kHz 16-bit samples), transcribed after the
        call; returns once its last segment is announced."""
        key = _track_key(piece)
        if key in self._tracks:
            raise ValueError(f"stream {piece.stream_id[:40]!r}: track {piece.track!r} is being transcribed")
        ended = dataclasses.replace(piece, payload=b"", end=True, recorded=True)
        track = self._open(ended, key)
        await self.on_audio(ended, samples)
        assert track.worker is not None
        await track.worker

    async def on_audio(self, piece: AudioPiece, samples: np.ndarray | None = None) -> None:
        key = _track_key(piece)
        track = self._tracks.get(key)
        if track is None:
            if piece.end and not piece.payload:
                return
            track = self._open(piece, key)
        fell_behind = False
        for utterance in track.segmenter.feed(
            samples if samples is not None else ulaw_to_pcm16(piece.payload)
        ):
            fell_behind |= self._enqueue(piece, track, utterance)
        if piece.end:
            last = track.segmenter.finish()
            if last is not None:
                fell_behind |= self._enqueue(piece, track, last)
            track.queue.put_nowait(None)
            del self._tracks[key]
        if fell_behind:
            await self._report_lag(piece, track)

    def _open(self, piece: AudioPiece, key: tuple[str, str]) -> _Track:
        """A new track with its decoder started."""
        track = _Track(self._segmenter())
        track.worker = asyncio.create_task(self._decode(piece, track), name=f"transcribe {key}")
        self._tracks[key] = track
        return track

    async def stop(self) -> None:
        """Finish every open track (the service stops): buffered speech is still transcribed."""
        workers = []
        for track in self._tracks.values():
            last = track.segmenter.finish()
            if last is not None:
                track.queue.put_nowait(last)
            track.queue.put_nowait(None)
            if track.worker is not None:
                workers.append(track.worker)
        self._tracks.clear()
        await asyncio.gather(*workers, return_exceptions=True)

    def _enqueue(self, piece: AudioPiece, track: _Track, utterance: Utterance) -> bool:
        """Queues the utterance; True when this made the track fall behind real time."""
        track.queue.put_nowait(utterance)
        if track.queue.qsize() > BEHIND_AFTER and not track.behind and not piece.recorded:
            track.behind = True
            self.behind.add(piece.stream_id)
            log.warning(
                "transcription of stream %s (%s) is behind real time: %d utterances waiting",
                piece.stream_id,
                piece.track,
                track.queue.qsize(),
            )
            return True
        return False

    async def _report_lag(self, piece: AudioPiece, track: _Track) -> None:
        if self._lag is None:
            return
        lag = FellBehind(
            tenant_id=piece.tenant_id,
            brand_id=piece.brand_id,
            contact_id=piece.contact_id,
            stream_id=piece.stream_id,
            track=SPEAKERS[piece.track],
            waiting=track.queue.qsize(),
        )
        try:
            await self._lag.behind(lag)
        except Exception as error:  # the report is lost, never the audio: it is logged above
            log.error("stream %s: lag not announced: %r", piece.stream_id, error)

    async def _decode(self, first: AudioPiece, track: _Track) -> None:
        speaker = SPEAKERS[first.track]
        if self._vocabulary is not None:
            # Read when a call starts, so a knowledge base or intent change reaches the next call.
            try:
                self._recognition.set_vocabulary(
                    first.tenant_id, await self._vocabulary.sentences(first.tenant_id)
                )
            except Exception as error:  # without its vocabulary the call is still transcribed
                log.error("vocabulary of tenant %s not read: %r", first.tenant_id, error)
        while (utterance := await track.queue.get()) is not None:
            samples = resample(utterance.samples, TELEPHONE_RATE, RECOGNISER_RATE)
            try:
                transcript = await self._recognition.transcribe(first.tenant_id, first.language, samples)
            except Exception as error:  # one utterance the recogniser lost must not end the call's transcript
                log.error("stream %s: an utterance could not be transcribed: %r", first.stream_id, error)
                transcript = Transcript(
                    text="", confidence=0.0, language=first.language, transcribed=False, reason=str(error)
                )
            track.sequence += 1
            segment = TranscriptSegmentFound(
                tenant_id=first.tenant_id,
                brand_id=first.brand_id,
                contact_id=first.contact_id,
                stream_id=first.stream_id,
                track=speaker,
                start_seconds=utterance.start_seconds,
                end_seconds=utterance.end_seconds,
                transcript=transcript,
                sequence=track.sequence,
            )
            try:
                await self._publish(segment, speaker)
            except Exception as error:  # the next utterances are still transcribed and announced
                log.error("stream %s: segment %d not announced: %r", first.stream_id, segment.sequence, error)

    async def _publish(self, segment: TranscriptSegmentFound, speaker: str) -> None:
        await self._sink.publish(segment)
        text = segment.transcript.text
        if not text:
            return
        if speaker == "agent":
            if self._agent_turns is not None:
                await self._agent_turns.record_reply(
                    segment.tenant_id, segment.contact_id, segment.segment_id, text, "agent"
                )
            return
        if self._insights is None:
            return
        await self._insights.on_message(
            InboundMessage(
                tenant_id=segment.tenant_id,
                brand_id=segment.brand_id,
                contact_id=segment.contact_id,
                message_id=segment.segment_id,
                text=text,
                channel=Channel.VOICE,
                expected_language=segment.transcript.language,
            )
        )
