"""`make bench-voice`: speech recognition on the telephone path, measured on one core.

Every utterance of the fixed contact-center set (bench/voice/utterances.py) is spoken by
espeak-ng, converted to 8 kHz μ-law as a call carries it, framed in 20 ms like Twilio's media
messages and run through what the ai service runs: μ-law decoding, voice activity and
endpointing (the segmenter), resampling to 16 kHz, the PocketSphinx recogniser.

- word error rate (jiwer) with the general model and with the tenant's language model (built
  from its intents' examples, knowledge-base titles and phrase list), overall and on the
  utterances no configured text contains (held out);
- real-time factor per stream (decode CPU seconds / audio seconds) with the tenant model, and
  with wall-clock seconds (`_wall`: inflated when the machine is busy);
- end of utterance to transcript: (endpoint - last speech sample) of audio time plus the decode
  time, p50/p95: what a live call waits after the caller stops speaking; with the decode's CPU
  time (an idle core) and its wall time (`_wall`, this machine now);
- real-time streams per core: 1 / real-time factor, and the machine's load average beside it
  (the machine is shared: a busy one inflates the wall times); and measured: streams whose
  utterances one recogniser process (one core) decodes as they end, keeping the p95 end of
  utterance to transcript within 1.5 s (4, 8, 12, ... streams, one utterance each 4 s each).

`--quick` runs the first 20 utterances.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import jiwer
import numpy as np

from ai.adapters.speech_pocketsphinx import PocketsphinxRecogniser
from ai.adapters.speech_pool import SpeechPool
from ai.adapters.speech_vad import voice_activity
from ai.domain.component import ComponentContext
from ai.domain.speech_audio import FRAME_BYTES, RECOGNISER_RATE, TELEPHONE_RATE, resample, ulaw_to_pcm16
from ai.domain.speech_segmenter import Segmenter, SegmenterSettings
from bench.report import Goal, print_report
from bench.voice.synthesis import espeak_available, silence, telephone_speech
from bench.voice.utterances import HELD_OUT, TENANT_VOCABULARY, UTTERANCES

TENANT = "acme"
GENERAL = "no-vocabulary"
LEADING_SILENCE = 0.5
TRAILING_SILENCE = 1.0
#: |sample| above this (of 32767) counts as sound when finding where speech really ends.
SOUND = 300


@dataclass
class CallResult:
    text: str
    audio_seconds: float
    decode_seconds: float
    #: CPU seconds of decoding (what a core does, whatever else the machine runs).
    decode_cpu_seconds: float
    #: Seconds from the last speech sample to the transcript, per utterance found: with the
    #: decode's wall time (this machine now), and with its CPU time (an idle core).
    latencies: list[float]
    latencies_idle: list[float]


def speech_end_seconds(call: bytes) -> float:
    samples = np.abs(ulaw_to_pcm16(call).astype(np.int32))
    loud = np.nonzero(samples > SOUND)[0]
    return float(loud[-1] + 1) / TELEPHONE_RATE if loud.size else 0.0


def run_call(recogniser: PocketsphinxRecogniser, tenant: str, call: bytes) -> CallResult:
    segmenter = Segmenter(voice_activity())
    spoken_end = speech_end_seconds(call)
    texts: list[str] = []
    latencies: list[float] = []
    latencies_idle: list[float] = []
    audio = decode = decode_cpu = 0.0

    def transcribe(utterance_samples: np.ndarray, endpoint_seconds: float) -> None:
        nonlocal audio, decode, decode_cpu
        started, started_cpu = time.perf_counter(), time.thread_time()
        samples = resample(utterance_samples, TELEPHONE_RATE, RECOGNISER_RATE)
        transcript = recogniser.transcribe(tenant, "en", samples)
        took, took_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
        audio += transcript.audio_seconds
        decode += took
        decode_cpu += took_cpu
        if transcript.text:
            texts.append(transcript.text)
        waited = max(0.0, endpoint_seconds - spoken_end)
        latencies.append(waited + took)
        latencies_idle.append(waited + took_cpu)

    for offset in range(0, len(call), FRAME_BYTES):
        for utterance in segmenter.feed(ulaw_to_pcm16(call[offset : offset + FRAME_BYTES])):
            transcribe(utterance.samples, segmenter.seconds)
    last = segmenter.finish()
    if last is not None:
        transcribe(last.samples, segmenter.seconds)
    return CallResult(" ".join(texts), audio, decode, decode_cpu, latencies, latencies_idle)


#: How long the segmenter waits after the last word before it ends an utterance.
ENDPOINT_DELAY = SegmenterSettings().end_silence
STREAM_CANDIDATES = (4, 8, 12, 16, 24)
#: Seconds between the ends of two utterances of one caller (speech and a pause).
UTTERANCE_PERIOD = 4.0
ROUNDS = 3


async def concurrent_streams(utterances: list[np.ndarray], workers: int) -> dict[str, Any]:
    """Streams decoded at once by `workers` recogniser processes, as calls make them: each stream
    ends an utterance every `UTTERANCE_PERIOD` seconds (staggered across streams); a stream count
    keeps up when p95 end of utterance to transcript stays within the goal."""
    pool = SpeechPool("speech", workers=workers)
    pool.set_vocabulary(TENANT, TENANT_VOCABULARY)
    for _ in range(workers * 2):  # start every worker and adapt its decoder before measuring
        await pool.transcribe(TENANT, "en", utterances[0])
    loop = asyncio.get_running_loop()
    measured: dict[str, float] = {}
    keeping_up = 0
    try:
        for count in STREAM_CANDIDATES:
            latencies: list[float] = []
            started = loop.time() + 0.2

            async def stream(
                index: int, count: int = count, started: float = started, latencies: list[float] = latencies
            ) -> None:
                for round_ in range(ROUNDS):
                    ended = started + round_ * UTTERANCE_PERIOD + index * UTTERANCE_PERIOD / count
                    await asyncio.sleep(max(0.0, ended + ENDPOINT_DELAY - loop.time()))
                    samples = utterances[(index * ROUNDS + round_) % len(utterances)]
                    await pool.transcribe(TENANT, "en", samples)
                    latencies.append(loop.time() - ended)

            await asyncio.gather(*(stream(i) for i in range(count)))
            p95 = percentile(latencies, 0.95)
            measured[str(count)] = round(p95, 3)
            if p95 > 1.5:
                break
            keeping_up = count
    finally:
        pool.close()
    return {"streams_keeping_up": keeping_up, "workers": workers, "p95_s_by_streams": measured}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.voice", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 20 utterances only")
    parser.add_argument(
        "--no-concurrency", action="store_true", help="skip the concurrent streams on one worker process"
    )
    args = parser.parse_args(argv)
    if not espeak_available():
        print("bench.voice: espeak-ng is not installed (run `make espeak` as root)", file=sys.stderr)
        return 2
    utterances = UTTERANCES[:20] if args.quick else UTTERANCES
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    recogniser = PocketsphinxRecogniser({}, ComponentContext())
    load_seconds = time.perf_counter() - started
    words = recogniser.set_vocabulary(TENANT, TENANT_VOCABULARY)
    calls = [
        silence(LEADING_SILENCE) + telephone_speech(text) + silence(TRAILING_SILENCE) for text in utterances
    ]
    results: dict[str, Any] = {
        "utterances": len(utterances),
        "held_out": sum(1 for text in utterances if text in HELD_OUT),
        "recogniser_load_seconds": round(load_seconds, 2),
        "tenant_vocabulary_words": words,
    }
    by_model: dict[str, list[CallResult]] = {}
    for tenant in (TENANT, GENERAL):
        by_model[tenant] = [run_call(recogniser, tenant, call) for call in calls]
    references = list(utterances)
    held = [i for i, text in enumerate(utterances) if text in HELD_OUT]
    for tenant, label in ((TENANT, "tenant_lm"), (GENERAL, "general_lm")):
        hypotheses = [r.text for r in by_model[tenant]]
        results[f"wer_{label}"] = round(jiwer.wer(references, hypotheses), 4)
        if held:
            results[f"wer_{label}_held_out"] = round(
                jiwer.wer([references[i] for i in held], [hypotheses[i] for i in held]), 4
            )
        audio = sum(r.audio_seconds for r in by_model[tenant])
        results[f"rtf_{label}"] = round(sum(r.decode_cpu_seconds for r in by_model[tenant]) / audio, 4)
        results[f"rtf_{label}_wall"] = round(sum(r.decode_seconds for r in by_model[tenant]) / audio, 4)
    for suffix, attribute in (("", "latencies_idle"), ("_wall", "latencies")):
        latencies = [latency for r in by_model[TENANT] for latency in getattr(r, attribute)]
        results[f"end_of_utterance_to_transcript_p50_s{suffix}"] = round(statistics.median(latencies), 3)
        results[f"end_of_utterance_to_transcript_p95_s{suffix}"] = round(percentile(latencies, 0.95), 3)
    results["streams_per_core"] = round(1.0 / results["rtf_tenant_lm"], 1)
    if not args.no_concurrency:
        speech = [
            resample(ulaw_to_pcm16(telephone_speech(text)), TELEPHONE_RATE, RECOGNISER_RATE)
            for text in utterances[:12]
        ]
        results["concurrent_one_worker"] = asyncio.run(concurrent_streams(speech, workers=1))
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["cores"] = os.cpu_count()
    results["misrecognised"] = [
        {"said": ref, "heard": r.text}
        for ref, r in zip(references, by_model[TENANT], strict=True)
        if ref != r.text
    ][:10]
    goals = [
        Goal("wer_tenant_lm", "<=", 0.35, results["wer_tenant_lm"]),
        Goal("rtf_tenant_lm", "<=", 0.1, results["rtf_tenant_lm"]),
        Goal(
            "end_of_utterance_to_transcript_p95_s", "<=", 1.5, results["end_of_utterance_to_transcript_p95_s"]
        ),
    ]
    print_report("voice", results, goals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
