"""The sentiment model's n-gram counts for a live message (hashed here, per text) are the very
counts scikit-learn's hashing vectorizers give, on every kind of text the model meets: UMSAB's
tweets in eight languages, scripts it never saw, emoji, odd whitespace, nothing at all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction import FeatureHasher

from ai.domain import sentiment_model
from ai.domain.sentiment_model import (
    _CHAR_HASHER,
    _WORD_HASHER,
    DIRECT_TEXTS,
    HASH_BUCKETS,
    MAX_CHARS,
    _counts,
    _DirectCounts,
    _hashed_column,
)

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
from bench.ai.umsab import LANGUAGES, UMSAB, read_split  # noqa: E402

ODD_TEXTS = [
    "",
    " ",
    "a",
    "I",
    "ok!!!",
    "😡😡😡 never again",
    "Ünïcödé\u00a0non-breaking\u2003em space\ttab\nnew line",
    "これは最悪です",
    "这个服务很好",
    "מה קורה",
    "x" * (MAX_CHARS + 500),
    "CALL ME",
    "#refund @acme https://example.com/order/123?x=1",
]


def by_scikit_learn(texts: list[str]) -> csr_matrix:
    cut = [text[:MAX_CHARS] for text in texts]
    matrix: csr_matrix = hstack([_CHAR_HASHER.transform(cut), _WORD_HASHER.transform(cut)], format="csr")
    return matrix


def assert_same(found: csr_matrix, expected: csr_matrix) -> None:
    assert found.shape == expected.shape
    assert found.dtype == expected.dtype
    assert found.indptr.tolist() == expected.indptr.tolist()
    # Same columns in the same order within each row: sums over a row add up alike.
    assert found.indices.tolist() == expected.indices.tolist()
    assert found.data.tolist() == expected.data.tolist()


def umsab_texts(per_language: int) -> list[str]:
    if not UMSAB.is_dir():
        pytest.skip(f"UMSAB is not at {UMSAB}")
    texts: list[str] = []
    for language in sorted(LANGUAGES):
        texts += read_split(language, "test")[0][:per_language]
    return texts


def test_each_text_is_counted_as_scikit_learn_counts_it() -> None:
    for text in ODD_TEXTS + umsab_texts(150):
        assert_same(_counts([text]), by_scikit_learn([text]))


def test_a_few_texts_at_once_are_rows_of_their_own() -> None:
    texts = (ODD_TEXTS + umsab_texts(5))[:DIRECT_TEXTS]
    assert_same(_counts(texts), by_scikit_learn(texts))


def test_a_column_is_the_feature_hashers_column() -> None:
    hasher = FeatureHasher(n_features=HASH_BUCKETS, input_type="string", alternate_sign=False)
    grams = [" a", "ab", "😡", "最悪", "refund please", "", "x" * 300]
    expected = hasher.transform([[gram] for gram in grams]).indices.tolist()
    assert [_hashed_column(gram) for gram in grams] == expected


def test_remembered_columns_are_forgotten_past_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentiment_model, "COLUMNS_KEPT", 50)
    counts = _DirectCounts()
    texts = umsab_texts(3)
    for text in texts:
        assert_same(counts([text]), by_scikit_learn([text]))
        # At most the bound, or one text's n-grams when a single text has more.
        assert all(len(known) <= max(50, len(analyse(text))) for analyse, known, _ in counts._parts)
    assert any(len(known) > 0 for _, known, _ in counts._parts)
