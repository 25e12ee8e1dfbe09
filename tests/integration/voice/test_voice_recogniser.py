"""The shipped recogniser on the telephone path: espeak-ng speech, 8 kHz μ-law, endpointing,
16 kHz PocketSphinx, the tenant's language model; word error rate on the fixed set.

Needs Debian's espeak-ng (`make espeak`); skipped with that reason without it.
"""

from __future__ import annotations

import jiwer
import numpy as np
import pytest

from ai.adapters.registry import ComponentRegistry
from ai.adapters.speech_pocketsphinx import PocketsphinxRecogniser
from ai.adapters.speech_pool import RecogniserUnavailable, SpeechPool, build_recogniser
from ai.adapters.speech_vad import voice_activity
from ai.domain.component import ComponentContext, ComponentError
from ai.domain.pipeline import PipelineError, Step, build_pipeline
from ai.domain.speech import is_recogniser
from ai.domain.speech_audio import FRAME_BYTES, RECOGNISER_RATE, TELEPHONE_RATE, resample, ulaw_to_pcm16
from ai.domain.speech_segmenter import Segmenter
from bench.voice.synthesis import espeak_available, silence, telephone_speech
from bench.voice.utterances import HELD_OUT, TENANT_VOCABULARY, UTTERANCES

pytestmark = [
    pytest.mark.skipif(
        not espeak_available(),
        reason="espeak-ng is not installed (run `make espeak` or tools/install_espeak.sh)",
    ),
    # About 20 s of CPU on an idle core (56 utterances); generous for a shared, busy machine.
    pytest.mark.timeout(600),
]
TENANT = "acme"


@pytest.fixture(scope="module")
def recogniser() -> PocketsphinxRecogniser:
    recogniser = PocketsphinxRecogniser({}, ComponentContext())
    recogniser.set_vocabulary(TENANT, TENANT_VOCABULARY)
    return recogniser


def phone_call_transcript(recogniser: PocketsphinxRecogniser, tenant: str, text: str) -> str:
    """Speak `text` into a call, frame it as a media stream does, endpoint it, transcribe each
    utterance found."""
    call = silence(0.5) + telephone_speech(text) + silence(1.0)
    segmenter = Segmenter(voice_activity())
    utterances = []
    for offset in range(0, len(call), FRAME_BYTES):
        utterances += segmenter.feed(ulaw_to_pcm16(call[offset : offset + FRAME_BYTES]))
    last = segmenter.finish()
    utterances += [last] if last is not None else []
    heard = [
        recogniser.transcribe(tenant, "en", resample(u.samples, TELEPHONE_RATE, RECOGNISER_RATE)).text
        for u in utterances
    ]
    return " ".join(text for text in heard if text)


def test_word_error_rate_on_the_fixed_set_with_the_tenant_model(recogniser: PocketsphinxRecogniser) -> None:
    assert len(UTTERANCES) >= 50
    heard = [phone_call_transcript(recogniser, TENANT, text) for text in UTTERANCES]
    assert jiwer.wer(list(UTTERANCES), heard) <= 0.35
    # Sentences no configured text holds are still mostly heard: the model is of words, not a list.
    held = [i for i, text in enumerate(UTTERANCES) if text in HELD_OUT]
    assert jiwer.wer([UTTERANCES[i] for i in held], [heard[i] for i in held]) <= 0.7


def test_the_tenant_model_beats_the_general_one_on_its_vocabulary(recogniser: PocketsphinxRecogniser) -> None:
    sample = [text for text in UTTERANCES if text not in HELD_OUT][:3]
    tenant = [phone_call_transcript(recogniser, TENANT, text) for text in sample]
    general = [phone_call_transcript(recogniser, "tenant-without-vocabulary", text) for text in sample]
    assert jiwer.wer(sample, tenant) < jiwer.wer(sample, general)


def test_another_language_gets_an_explicit_no_transcription(recogniser: PocketsphinxRecogniser) -> None:
    result = recogniser.transcribe(TENANT, "es", np.zeros(RECOGNISER_RATE, dtype=np.int16))
    assert not result.transcribed and result.text == ""
    assert "no transcription for language 'es'" in result.reason


def test_silence_transcribes_to_nothing(recogniser: PocketsphinxRecogniser) -> None:
    assert is_recogniser(recogniser)
    result = recogniser.transcribe(TENANT, "en", np.zeros(RECOGNISER_RATE, dtype=np.int16))
    assert result.transcribed and result.text == "" and result.confidence == 0.0


def test_a_vocabulary_without_known_words_returns_the_tenant_to_the_general_model(
    recogniser: PocketsphinxRecogniser,
) -> None:
    assert recogniser.set_vocabulary("other", ["Qzxv wplk"]) == 0
    assert recogniser.set_vocabulary("other", ["Where is my order?"]) == 4
    assert recogniser.set_vocabulary("other", []) == 0


def test_the_registry_offers_it_and_text_pipelines_refuse_it() -> None:
    registry = ComponentRegistry.discover()
    assert "speech" in registry.registered
    with pytest.raises(PipelineError, match=r"consumes \['audio'\]"):
        build_pipeline("calls", [Step("speech")], registry.factories, ComponentContext())
    with pytest.raises(RecogniserUnavailable, match="'sentiment' is not a speech recogniser"):
        build_recogniser("sentiment", {}, registry)
    with pytest.raises(RecogniserUnavailable, match="'whisper' is not installed"):
        build_recogniser("whisper", {}, registry)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"language": "english"}, "'language'"),
        ({"model_dir": "/nonexistent"}, "'model_dir'"),
        ({"discount": "2"}, "'discount'"),
    ],
)
def test_bad_settings_are_named(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(ComponentError, match=problem):
        PocketsphinxRecogniser(settings, ComponentContext())


async def test_a_worker_process_transcribes_with_the_tenant_vocabulary() -> None:
    pool = SpeechPool("speech", workers=1)
    pool.set_vocabulary(TENANT, TENANT_VOCABULARY)
    try:
        call = silence(0.5) + telephone_speech("where is my order") + silence(0.5)
        samples = resample(ulaw_to_pcm16(call), TELEPHONE_RATE, RECOGNISER_RATE)
        result = await pool.transcribe(TENANT, "en", samples)
        assert result.text == "where is my order"
    finally:
        pool.close()
