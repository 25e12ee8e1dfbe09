"""The encoder pair: the first encoder answers for both; the second loads only for a model
that re-ranks (sets of about 10 examples per intent), once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ai.domain.encoder_pair import EncoderPair, second_encoder
from ai.domain.intent import RERANK_MAX_EXAMPLES, IntentModel


class WordHashEncoder:
    """Unit vectors of hashed words: deterministic, no model needed."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self._size = size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self._size), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                rows[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self._size] += 1.0
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    def encode_one(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.encode([text])[0]
        return vector


class CountingLoader:
    def __init__(self, encoder: WordHashEncoder | None) -> None:
        self.encoder = encoder
        self.calls = 0

    def __call__(self) -> WordHashEncoder | None:
        self.calls += 1
        return self.encoder


def examples(per_intent: int) -> dict[str, list[str]]:
    topics = {
        "billing": "invoice charge payment bill",
        "delivery": "parcel package courier shipping",
        "account": "password login username profile",
    }
    return {
        intent: [f"{words} question number {n} about my {intent}" for n in range(per_intent)]
        for intent, words in topics.items()
    }


def test_the_pair_answers_with_its_first_encoder_and_loads_the_second_once() -> None:
    first = WordHashEncoder("first", 64)
    loader = CountingLoader(WordHashEncoder("second", 32))
    pair = EncoderPair(first, loader)
    assert pair.name == "first"
    assert np.array_equal(pair.encode(["my invoice"]), first.encode(["my invoice"]))
    assert np.array_equal(pair.encode_one("my invoice"), first.encode_one("my invoice"))
    assert loader.calls == 0
    assert second_encoder(pair) is loader.encoder
    assert second_encoder(pair) is loader.encoder
    assert loader.calls == 1
    assert second_encoder(first) is None


def test_only_a_sparse_training_set_loads_the_second_encoder_and_re_ranks() -> None:
    loader = CountingLoader(WordHashEncoder("second", 32))
    pair = EncoderPair(WordHashEncoder("first", 64), loader)
    larger = IntentModel.train(examples(RERANK_MAX_EXAMPLES + 10), encoder=pair)
    assert not larger.reranks
    assert loader.calls == 0
    # Sent to a worker and attached there: still nothing to load.
    assert not larger.detached().attach(pair).reranks
    assert loader.calls == 0
    sparse = IntentModel.train(examples(RERANK_MAX_EXAMPLES), encoder=pair)
    assert sparse.reranks
    assert loader.calls == 1
    assert sparse.predict("where is my parcel courier").intent == "delivery"


def test_without_the_second_encoder_installed_a_sparse_set_trains_two_stages() -> None:
    pair = EncoderPair(WordHashEncoder("first", 64), CountingLoader(None))
    model = IntentModel.train(examples(RERANK_MAX_EXAMPLES), encoder=pair)
    assert not model.reranks
    assert model.kind == "tfidf-first-svm"
    assert model.predict("my password and login").intent == "account"
