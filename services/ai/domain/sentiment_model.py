"""The trained sentiment classifier: negative, neutral, positive for any language the encoder knows.

Features are the message's multilingual sentence embedding next to TF-IDF weighted character
1-4-grams and word 1-2-grams (hashed, so no vocabulary is stored: the n-grams catch slang, emoji
and hashtags the encoder smooths over). One multinomial logistic regression over both, trained on UMSAB's
tweets in eight languages; Japanese and Chinese, absent there, are carried by the shared
embedding space. `neutral_margin` is subtracted from the neutral class's log-probability: a
clearly worded complaint answered "neutral" is the costlier mistake for a contact center.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils import murmurhash3_32

#: Class order of every model: the UMSAB label numbers 0, 1, 2.
LABELS = ("negative", "neutral", "positive")
#: Character 1-4-grams in the first half of the hashed space, word 1-2-grams in the second.
HASH_BUCKETS = 2**18
HASHED_FEATURES = 2 * HASH_BUCKETS
#: Subtracted from the neutral log-probability; measured on UMSAB test, 0.25 trades about half a
#: point of macro-F1 for three points fewer polar texts answered neutral.
DEFAULT_NEUTRAL_MARGIN = 0.25
MAX_CHARS = 2000

_CHAR_HASHER = HashingVectorizer(
    analyzer="char_wb", ngram_range=(1, 4), n_features=HASH_BUCKETS, alternate_sign=False, norm=None
)
# Words and single punctuation marks ("!", "?" and emoji count).
_WORD_HASHER = HashingVectorizer(
    analyzer="word",
    ngram_range=(1, 2),
    n_features=HASH_BUCKETS,
    alternate_sign=False,
    norm=None,
    token_pattern=r"(?u)\b\w+\b|[^\w\s]",  # noqa: S106 - a regular expression, not a secret
)


def _counts(texts: Sequence[str]) -> csr_matrix:
    cut = [text[:MAX_CHARS] for text in texts]
    return hstack([_CHAR_HASHER.transform(cut), _WORD_HASHER.transform(cut)], format="csr")


# ---- one message at a time --------------------------------------------------------------------
# The same features as `_counts` then `_ngrams`, for one text without building sparse matrices:
# for a single message scikit-learn's and scipy's checks and conversions took four fifths of the
# time. Training keeps the batch path; a test holds the two equal.

_WORD_ANALYZER = _WORD_HASHER.build_analyzer()
#: Where FeatureHasher puts the one hash whose absolute value does not fit 32 bits.
_MIN_INT32_BUCKET = (2147483647 - (HASH_BUCKETS - 1)) % HASH_BUCKETS


def _char_wb_ngrams(text: str) -> list[str]:
    """scikit-learn's `char_wb` 1-4-grams of lowercased `text`: each word padded with a space on
    either side; a word shorter than n counts once, not once per longer n."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        length = len(padded)
        for n in range(1, 5):
            if n >= length:
                grams.append(padded)
                break
            grams.extend([padded[i : i + n] for i in range(length - n + 1)])
    return grams


def _block(grams: Sequence[str], offset: int, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted feature numbers of one block's n-grams and their unit-length TF-IDF weights."""
    if not grams:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    grams_counted = Counter(grams)
    hashed = np.fromiter(
        [murmurhash3_32(gram, seed=0) for gram in grams_counted], dtype=np.int64, count=len(grams_counted)
    )
    buckets = np.where(hashed == -2147483648, _MIN_INT32_BUCKET, np.abs(hashed) % HASH_BUCKETS) + offset
    # Two n-grams hashed to one bucket add up there, as in FeatureHasher.
    features, where = np.unique(buckets, return_inverse=True)
    frequencies = np.bincount(
        where, weights=np.fromiter(grams_counted.values(), dtype=np.float64, count=len(grams_counted))
    )
    weights = (1.0 + np.log(frequencies)) * idf[features]
    norm = np.sqrt(np.dot(weights, weights))
    if norm:
        weights /= norm
    return features, weights.astype(np.float32)


def _text_ngram_logits(text: str, idf: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`_ngram_logits(_ngrams([text], idf), weights)[0]`, for one text."""
    cut = text[:MAX_CHARS]
    logits = np.zeros(weights.shape[1], dtype=np.float32)
    for grams, offset in ((_char_wb_ngrams(cut), 0), (_WORD_ANALYZER(cut), HASH_BUCKETS)):
        features, values = _block(grams, offset, idf)
        if len(features):
            logits += values @ weights[features]
    return logits


class SentimentModelError(ValueError):
    """The training data or a stored model is unusable; the message says why."""


@dataclass(frozen=True)
class SentimentPrediction:
    label: str
    #: P(positive) - P(negative): -1 (very negative) .. 1 (very positive).
    score: float
    confidence: float


def _ngrams(texts: Sequence[str], idf: np.ndarray) -> csr_matrix:
    """TF-IDF weighted, L2-normalised hashed n-gram counts, one row a text. Done on the CSR
    arrays directly: scipy's and scikit-learn's checks cost more than the arithmetic here."""
    counts = _counts(texts)
    data = (1.0 + np.log(counts.data)) * idf[counts.indices]  # sublinear term frequency
    # Each block (characters, words) is scaled to unit length on its own, so both weigh alike.
    rows = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
    blocks = rows * 2 + (counts.indices >= HASH_BUCKETS)
    squares = np.zeros(2 * len(texts), dtype=np.float64)
    np.add.at(squares, blocks, data * data)
    norms = np.sqrt(squares)
    norms[norms == 0] = 1.0
    data /= norms[blocks]
    return csr_matrix((data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)


def _ngram_logits(features: csr_matrix, weights: np.ndarray) -> np.ndarray:
    """`features @ weights` as a gather of the few columns each text has."""
    out = np.zeros((features.shape[0], weights.shape[1]), dtype=np.float32)
    rows = np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))
    np.add.at(out, rows, features.data[:, None] * weights[features.indices])
    return out


@dataclass(frozen=True)
class SentimentModel:
    #: Name of the sentence encoder whose embeddings the model was trained on.
    encoder: str
    idf: np.ndarray  # (HASHED_FEATURES,) float32
    embedding_weights: np.ndarray  # (3, dim) float32
    ngram_weights: np.ndarray  # (HASHED_FEATURES, 3) float32: dense, so a message costs a gather
    bias: np.ndarray  # (3,) float32
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN

    def predict(self, texts: Sequence[str], embeddings: np.ndarray) -> list[SentimentPrediction]:
        if len(texts) != len(embeddings):
            raise SentimentModelError(f"{len(texts)} texts but {len(embeddings)} embeddings")
        if embeddings.shape[1] != self.embedding_weights.shape[1]:
            raise SentimentModelError(
                f"embeddings have {embeddings.shape[1]} dimensions; the model was trained on "
                f"{self.embedding_weights.shape[1]} ({self.encoder})"
            )
        logits = embeddings @ self.embedding_weights.T
        for row, text in enumerate(texts):
            logits[row] += _text_ngram_logits(text, self.idf, self.ngram_weights)
        logits += self.bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        decision = np.log(probabilities + 1e-12)
        decision[:, 1] -= self.neutral_margin
        chosen = decision.argmax(axis=1)
        return [
            SentimentPrediction(LABELS[c], float(p[2] - p[0]), float(p[c]))
            for c, p in zip(chosen, probabilities, strict=True)
        ]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        weights = csr_matrix(self.ngram_weights.T)
        np.savez_compressed(
            buffer,
            encoder=np.array(self.encoder),
            idf=self.idf.astype(np.float16),
            embedding_weights=self.embedding_weights.astype(np.float32),
            ngram_data=weights.data.astype(np.float16),
            ngram_indices=weights.indices.astype(np.int32),
            ngram_indptr=weights.indptr.astype(np.int32),
            bias=self.bias.astype(np.float32),
            neutral_margin=np.array(self.neutral_margin),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                ngram_weights = csr_matrix(
                    (
                        stored["ngram_data"].astype(np.float32),
                        stored["ngram_indices"],
                        stored["ngram_indptr"],
                    ),
                    shape=(len(LABELS), HASHED_FEATURES),
                ).T.toarray()
                # C order and float32 like the features: otherwise every product copies 3 MB.
                ngram_weights = np.ascontiguousarray(ngram_weights, dtype=np.float32)
                idf = stored["idf"].astype(np.float32)
                if idf.shape != (HASHED_FEATURES,):
                    raise SentimentModelError(
                        f"the model has {idf.shape[0]} n-gram features, this code hashes into "
                        f"{HASHED_FEATURES}: rebuild it with `python -m bench.ai.umsab --save`"
                    )
                return cls(
                    encoder=str(stored["encoder"]),
                    idf=idf,
                    embedding_weights=stored["embedding_weights"],
                    ngram_weights=ngram_weights,
                    bias=stored["bias"],
                    neutral_margin=float(stored["neutral_margin"]),
                )
        except (OSError, KeyError, ValueError) as error:
            raise SentimentModelError(f"unreadable sentiment model: {error}") from None


def train(
    texts: Sequence[str],
    labels: Sequence[int],
    embeddings: np.ndarray,
    encoder: str,
    *,
    regularisation: float = 0.3,
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN,
) -> SentimentModel:
    """Fit on `texts` with labels 0 negative, 1 neutral, 2 positive and their `embeddings`."""
    if len(texts) != len(labels) or len(texts) != len(embeddings):
        raise SentimentModelError(
            f"{len(texts)} texts, {len(labels)} labels and {len(embeddings)} embeddings: they must match"
        )
    bad = next((i for i, label in enumerate(labels) if label not in (0, 1, 2)), None)
    if bad is not None:
        raise SentimentModelError(f"label {labels[bad]!r} at row {bad + 1} is not 0, 1 or 2")
    if len(set(labels)) != len(LABELS):
        raise SentimentModelError("the training set needs examples of all three classes")
    counts = _counts(texts)
    document_frequency = np.bincount(counts.indices, minlength=HASHED_FEATURES)
    idf = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(np.float32)
    features = hstack([csr_matrix(embeddings), _ngrams(texts, idf)], format="csr")
    classifier = LogisticRegression(C=regularisation, max_iter=3000).fit(features, np.asarray(labels))
    dimensions = embeddings.shape[1]
    weights = classifier.coef_.astype(np.float32)
    return SentimentModel(
        encoder=encoder,
        idf=idf,
        embedding_weights=weights[:, :dimensions],
        ngram_weights=np.ascontiguousarray(weights[:, dimensions:].T),
        bias=classifier.intercept_.astype(np.float32),
        neutral_margin=neutral_margin,
    )
