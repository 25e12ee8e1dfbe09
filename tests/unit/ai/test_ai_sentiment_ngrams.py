# ruff: noqa: RUF001 - full-width punctuation and odd spaces are part of the test texts
"""The sentiment model scores one message's n-grams without scipy: it must find exactly the
features the batch path (scikit-learn's hashing, used for training) finds, with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from ai.domain.sentiment_model import (
    HASHED_FEATURES,
    LABELS,
    MAX_CHARS,
    _ngram_logits,
    _ngrams,
    _text_ngram_logits,
)

TEXTS = [
    "Hi, I was charged twice for order 48213 and I want a refund!!! 😡 #fail @support",
    "",
    "   ",
    "a",
    "I a m",
    "Straße ÉCOLE İstanbul ǅemal",
    "tabs\tand\nnew lines\r\n  and   runs of  spaces\u00a0nbsp\u2003em-space",
    "注文した商品がまだ届きません。返金してください！",
    "Спасибо, всё отлично 👍👍",
    "مرحبا، لم يصل طلبي بعد",
    "नमस्ते मेरा ऑर्डर कहाँ है?",
    "x" * (MAX_CHARS + 500),
    "word " * 700,
    "don't can't won't -- ... ?! ¿¡",
]


@pytest.fixture(scope="module")
def model() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(7)
    idf = generator.uniform(1.0, 9.0, HASHED_FEATURES).astype(np.float32)
    weights = generator.normal(0.0, 1.0, (HASHED_FEATURES, len(LABELS))).astype(np.float32)
    return idf, weights


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_one_text_scores_as_the_batch_path_does(text: str, model: tuple[np.ndarray, np.ndarray]) -> None:
    idf, weights = model
    batch = _ngram_logits(_ngrams([text], idf), weights)[0]
    one = _text_ngram_logits(text, idf, weights)
    np.testing.assert_allclose(one, batch, rtol=1e-5, atol=1e-5)


def test_a_batch_of_texts_scores_each_as_alone(model: tuple[np.ndarray, np.ndarray]) -> None:
    idf, weights = model
    batch = _ngram_logits(_ngrams(TEXTS, idf), weights)
    alone = np.array([_text_ngram_logits(text, idf, weights) for text in TEXTS])
    np.testing.assert_allclose(alone, batch, rtol=1e-5, atol=1e-5)
    assert np.abs(batch).max() > 0.1  # the texts do reach the weights
