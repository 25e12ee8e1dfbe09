"""The shipped speech recogniser: CMU PocketSphinx with the en-us model inside its wheel.

Nothing is downloaded: the acoustic model, the pronunciation dictionary and the general
language model come with the `pocketsphinx` package. A tenant's vocabulary becomes a trigram
model of its own (built with the package's `pocketsphinx_lm` builder) in a decoder of its own
whose dictionary holds only the tenant's words (built in milliseconds; a search over the whole
126,000-word dictionary takes seconds to build); the general model, built on first use, serves
tenants without one.

A decoder is not safe to share between threads, so calls are serialised per instance; the
transcription service runs instances in worker processes for parallelism.

Settings: `language` (default `en`: the model the wheel ships), `model_dir` (a directory with
an acoustic model `<language>-<region>/`, `<lang>.lm.bin` and a `.dict`, for another model
installed on the machine), `discount` (trigram discount mass, 0..1, default 0.5).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from ai.domain.component import ComponentContext, ComponentError, ComponentSpec, Resources, float_setting
from ai.domain.speech import AUDIO, TRANSCRIPT, Transcript, no_transcription
from ai.domain.speech_audio import RECOGNISER_RATE
from ai.domain.speech_vocabulary import corpus_sentences

#: Passes over the first utterance that adapt a fresh decoder's cepstral mean (see `transcribe`):
#: one is not enough on the phone path, three settle it.
PRIMING_PASSES = 3
#: Silence added around an utterance: the decoder's cepstral normalisation needs a little to
#: settle before the first word, which an endpointer cuts close.
_PADDING = np.zeros(RECOGNISER_RATE * 2 // 5, dtype=np.int16)


def _model_files(model_dir: str | None) -> tuple[str, str, str]:
    if model_dir is None:
        return (
            pocketsphinx.get_model_path("en-us/en-us"),
            pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"),
            pocketsphinx.get_model_path("en-us/en-us.lm.bin"),
        )
    root = Path(model_dir)
    acoustic = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    dictionaries = sorted(root.glob("*.dict")) if root.is_dir() else []
    models = sorted(root.glob("*.lm.bin")) if root.is_dir() else []
    if not (acoustic and dictionaries and models):
        raise ComponentError(
            f"setting 'model_dir' {model_dir!r} must hold an acoustic model directory, a .dict and a .lm.bin"
        )
    return str(acoustic[0]), str(dictionaries[0]), str(models[0])


def _read_dictionary(path: str) -> dict[str, list[str]]:
    """word -> its dictionary lines (alternative pronunciations are `word(2)` lines)."""
    entries: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            head = line.split(" ", 1)[0]
            if head:
                entries.setdefault(head.split("(", 1)[0], []).append(
                    line if line.endswith("\n") else line + "\n"
                )
    return entries


@dataclass
class _Decoder:
    decoder: pocketsphinx.Decoder
    #: Whether its cepstral normalisation has been adapted (see `transcribe`).
    primed: bool = False


class PocketsphinxRecogniser:
    spec = ComponentSpec(
        name="speech",
        consumes=frozenset({AUDIO}),
        produces=frozenset({TRANSCRIPT}),
        languages=frozenset({"en"}),
        resources=Resources(cpu_millis=1000, memory_mb=120),
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        language = settings.get("language", "en").strip().lower()
        if not language.isalpha() or len(language) != 2:
            raise ComponentError(f"setting 'language' must be an ISO 639-1 code, got {language!r}")
        self._discount = float_setting(settings, "discount", 0.5)
        if not 0.0 < self._discount < 1.0:
            raise ComponentError(f"setting 'discount' must be between 0 and 1, got {self._discount}")
        self._acoustic, self._dictionary_path, self._general_model = _model_files(settings.get("model_dir"))
        self.spec = ComponentSpec(
            name=self.spec.name,
            consumes=self.spec.consumes,
            produces=self.spec.produces,
            languages=frozenset({language}),
            resources=self.spec.resources,
        )
        self._dictionary = _read_dictionary(self._dictionary_path)
        # A decoder's search is built over its whole dictionary (seconds for the 126,000-word
        # general one), so each tenant gets a decoder of its own whose dictionary holds only its
        # words: built in milliseconds. The general decoder is built when first needed.
        self._general: _Decoder | None = None
        self._tenants: dict[str, _Decoder] = {}
        #: The cepstral mean of the last decode, handed to new decoders (see `_decode`).
        self._cmn = ""
        self._lock = threading.Lock()
        self._workdir = tempfile.TemporaryDirectory(prefix="cc-speech-")

    def known(self, word: str) -> bool:
        return word in self._dictionary

    def _decoder(self, tenant_id: str) -> _Decoder:
        decoder = self._tenants.get(tenant_id)
        if decoder is not None:
            return decoder
        if self._general is None:
            self._general = _Decoder(
                pocketsphinx.Decoder(
                    hmm=self._acoustic, dict=self._dictionary_path, lm=self._general_model, loglevel="FATAL"
                )
            )
        return self._general

    def set_vocabulary(self, tenant_id: str, sentences: Sequence[str]) -> int:
        corpus = corpus_sentences(sentences, self.known)
        words = sorted({word for sentence in corpus for word in sentence.split()})
        with self._lock:
            self._tenants.pop(tenant_id, None)
            if not corpus:
                return 0
            builder = ArpaBoLM(
                sentfile=StringIO("".join(f"<s> {sentence} </s>\n" for sentence in corpus)),
                discount_mass=self._discount,
                case="lower",
            )
            builder.compute()
            stem = Path(self._workdir.name) / f"tenant-{time.monotonic_ns()}"
            model, dictionary = stem.with_suffix(".arpa"), stem.with_suffix(".dict")
            builder.write_file(str(model))
            dictionary.write_text("".join(line for word in words for line in self._dictionary[word]))
            try:
                self._tenants[tenant_id] = _Decoder(
                    pocketsphinx.Decoder(
                        hmm=self._acoustic, dict=str(dictionary), lm=str(model), loglevel="FATAL"
                    )
                )
            finally:
                model.unlink()
                dictionary.unlink()
            return len(words)

    def _decode(self, decoder: pocketsphinx.Decoder, audio: np.ndarray) -> pocketsphinx.Hypothesis | None:
        decoder.start_utt()
        decoder.process_raw(audio.tobytes(), no_search=False, full_utt=False)
        decoder.end_utt()
        return decoder.hyp()

    def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript:
        if language not in self.spec.languages:
            return no_transcription(language, self.spec.languages)
        audio = np.concatenate([_PADDING, samples.astype(np.int16, copy=False), _PADDING])
        with self._lock:
            started = time.perf_counter()
            held = self._decoder(tenant_id)
            decoder = held.decoder
            if not held.primed:
                # Live cepstral normalisation starts from the model's (wideband) means and adapts
                # as audio goes by: a fresh decoder mishears its first words on the phone path
                # ("where is my order" -> "what"). A new decoder starts from the means the last
                # one reached, or, for the first, a few passes over the first utterance adapt it.
                if self._cmn:
                    decoder.set_cmn(self._cmn)
                else:
                    for _ in range(PRIMING_PASSES):
                        self._decode(decoder, audio)
                held.primed = True
            hypothesis = self._decode(decoder, audio)
            self._cmn = decoder.get_cmn()
            elapsed = time.perf_counter() - started
        text = hypothesis.hypstr.strip() if hypothesis is not None else ""
        confidence = float(min(max(hypothesis.prob, 0.0), 1.0)) if hypothesis is not None and text else 0.0
        return Transcript(
            text=text,
            confidence=confidence,
            language=language,
            audio_seconds=samples.size / RECOGNISER_RATE,
            decode_seconds=elapsed,
        )
