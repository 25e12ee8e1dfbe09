"""The arithmetic behind an intent model's scores: TF-IDF features and linear scorers.

`TfidfFeatures` turns one text into (column, value) pairs with sklearn's own analyzers but
without its per-call overhead (about 20x faster for a single text); `transform` is the
batch path through sklearn itself, and both give the same numbers. `LinearScores` holds a
trained linear SVM as a row-per-feature matrix so the active rows are gathered contiguously;
a two-class SVM (one score column) is widened to two columns, [-s, s], so the best class and
the margin are read the same way as with many classes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC


class TfidfFeatures:
    def __init__(self, vectorizers: Sequence[TfidfVectorizer]) -> None:
        self._vectorizers = list(vectorizers)
        self._parts: list[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, int]] = []
        offset = 0
        for vectorizer in vectorizers:
            self._parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        self.size = offset

    def one(self, text: str) -> tuple[list[int], np.ndarray]:
        indexes: list[int] = []
        values: list[float] = []
        for analyse, vocabulary, idf, offset in self._parts:
            part_indexes: list[int] = []
            part_values: list[float] = []
            for term, count in Counter(analyse(text)).items():
                column = vocabulary.get(term)
                if column is not None:
                    part_indexes.append(column)
                    part_values.append((1.0 + math.log(count)) * idf[column])
            norm = math.sqrt(sum(v * v for v in part_values)) or 1.0
            indexes.extend(offset + i for i in part_indexes)
            values.extend(v / norm for v in part_values)
        return indexes, np.asarray(values, dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        matrix: csr_matrix = hstack([v.transform(texts) for v in self._vectorizers]).tocsr()
        return matrix


class LinearScores:
    """Decision scores of a trained `LinearSVC` whose first `sparse_size` inputs are TF-IDF."""

    def __init__(self, svm: LinearSVC, sparse_size: int) -> None:
        coef = np.asarray(svm.coef_, dtype=np.float32)
        bias = np.asarray(svm.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:
            coef, bias = np.vstack([-coef, coef]), np.concatenate([-bias, bias])
        self._sparse = np.ascontiguousarray(coef[:, :sparse_size].T)
        self._dense = np.ascontiguousarray(coef[:, sparse_size:].T)
        self._bias = bias

    def scale_dense(self, weight: float) -> None:
        """Trained on dense inputs scaled by `weight`: score unscaled ones the same way."""
        self._dense *= np.float32(weight)

    def one(self, indexes: list[int], values: np.ndarray, dense: np.ndarray | None = None) -> np.ndarray:
        scores = self._bias.copy()
        if indexes:
            scores += values @ self._sparse[indexes]
        if dense is not None:
            scores += dense @ self._dense
        return scores

    def dense_only(self, dense: np.ndarray) -> np.ndarray:
        """Scores of a scorer trained on dense inputs alone (`sparse_size` 0): one row or many."""
        scores: np.ndarray = dense @ self._dense + self._bias
        return scores

    def batch(self, sparse: csr_matrix, dense: np.ndarray | None = None) -> np.ndarray:
        scores: np.ndarray = np.asarray(sparse @ self._sparse, dtype=np.float32) + self._bias
        if dense is not None:
            scores += dense @ self._dense
        return scores


def best_and_margin(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the best column, its score, and its lead over the runner-up."""
    rows = np.atleast_2d(scores)
    best = rows.argmax(axis=1)
    top_two = np.partition(rows, -2, axis=1)[:, -2:]
    return best, top_two[:, 1], top_two[:, 1] - top_two[:, 0]
