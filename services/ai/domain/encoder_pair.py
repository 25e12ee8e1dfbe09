"""A sentence encoder with a second one beside it, for the intent models' re-ranking stage.

Everything that embeds a message (the accurate intent stage, the trained sentiment classifier,
the `embeddings` component) uses the first encoder: the pair has its name and answers with its
vectors, so models and pipelines built on the first alone stay of the same kind. Only few-shot
intent models also train a re-ranking stage on both encoders' vectors side by side
(`ai.domain.intent`): two encoders trained on different data disagree where one alone is
unsure, and with ten examples per intent that is worth 2-3 points of accuracy.

The second encoder is loaded on first use (about 90 MB a process): a service whose tenants
train no such model never holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ai.domain.component import SentenceEncoder


class EncoderPair:
    """`primary` everywhere a sentence vector is asked for; the second for re-ranking, from
    `load_second` on first use (None: not installed)."""

    def __init__(self, primary: SentenceEncoder, load_second: Callable[[], SentenceEncoder | None]) -> None:
        self.primary = primary
        self.name = primary.name
        self._load_second = load_second
        self._second: SentenceEncoder | None = None
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def second(self) -> SentenceEncoder | None:
        with self._lock:
            if not self._loaded:
                self._second, self._loaded = self._load_second(), True
            return self._second

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.primary.encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        return self.primary.encode_one(text)


def second_encoder(encoder: SentenceEncoder | None) -> SentenceEncoder | None:
    """The encoder beside `encoder`, if it is a pair."""
    return encoder.second if isinstance(encoder, EncoderPair) else None
