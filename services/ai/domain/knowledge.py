"""The tenant's knowledge base and its retrieval, in any supported language.

Two signals are combined: BM25 over words (tokens are lowercased words for spaced scripts and
character bigrams for scripts written without spaces: Chinese, Japanese, Thai), and, when the
sentence encoder is installed, the cosine similarity of sentence embeddings, which matches a
question that says the same thing in other words ("I was billed twice" / "duplicate charge").
Each counts half: BM25 relative to the best BM25 of the query, the similarity as it is (below
`MIN_SIMILARITY` it counts for nothing, so unrelated articles do not creep in).

Articles carry a language; a query in a known language ranks the articles in that language
first, then those without a language, then the others: a Portuguese question gets the
Portuguese article, and an article in another language only when nothing in its own matches.
A suggested reply is the best-matching paragraph of the article, with the article it came from.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff]")
MAX_ARTICLE_CHARS = 100_000
MAX_ARTICLES = 10_000
#: Cosine similarity below which the embeddings say "unrelated".
MIN_SIMILARITY = 0.3
#: What of an article the encoder reads (its work grows with the length).
ENCODED_CHARS = 1000


class KnowledgeError(ValueError):
    """An article cannot be loaded; the message names it and the problem."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    language: str = ""


@dataclass(frozen=True)
class Suggestion:
    article_id: str
    title: str
    reply: str
    score: float
    language: str = ""


class Encoder(Protocol):
    """Texts -> unit vectors (`ai.domain.minilm.MiniLMEncoder`)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if _UNSPACED.search(word):
            out.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif len(word) > 3 and word.endswith("s"):
            out.append(word[:-1])  # the lightest stemming: plural "s" (refunds/refund, días/día)
        else:
            out.append(word)
    return out


def validate(article: Article) -> None:
    if not article.id or len(article.id) > 200:
        raise KnowledgeError(f"article id {article.id[:50]!r} must have 1-200 characters")
    if not article.body.strip():
        raise KnowledgeError(f"article {article.id!r} has an empty body")
    if len(article.body) + len(article.title) > MAX_ARTICLE_CHARS:
        raise KnowledgeError(f"article {article.id!r} is longer than {MAX_ARTICLE_CHARS} characters")


class KnowledgeIndex:
    """BM25 (k1=1.5, b=0.75) over title + body of every article, plus embeddings when given."""

    def __init__(
        self, articles: Sequence[Article], k1: float = 1.5, b: float = 0.75, encoder: Encoder | None = None
    ) -> None:
        self.articles = list(articles)
        self._k1, self._b = k1, b
        self._encoder = encoder
        self._docs = [Counter(tokens(f"{a.title} {a.title} {a.body}")) for a in self.articles]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._average = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
        self._vectors: np.ndarray | None = None
        if encoder is not None and self.articles:
            texts = [f"{a.title}. {a.body}"[:ENCODED_CHARS] for a in self.articles]
            self._vectors = np.asarray(encoder.encode(texts), dtype=np.float32)

    def _bm25(self, terms: set[str]) -> list[float]:
        scores = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            total = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = self._k1 * (1 - self._b + self._b * length / (self._average or 1))
                    total += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
            scores.append(total)
        return scores

    def _similarities(self, query: str) -> list[float]:
        if self._vectors is None or self._encoder is None:
            return [0.0] * len(self.articles)
        vector = np.asarray(self._encoder.encode([query[:ENCODED_CHARS]]), dtype=np.float32)[0]
        return [float(v) for v in self._vectors @ vector]

    def search(self, query: str, limit: int = 3, language: str = "") -> list[tuple[Article, float]]:
        """The best articles for `query`, those in `language` first (see the module doc)."""
        if not self.articles:
            return []
        bm25 = self._bm25(set(tokens(query)))
        best = max(bm25) or 1.0
        similarities = self._similarities(query)
        scored = []
        for article, lexical, similarity in zip(self.articles, bm25, similarities, strict=True):
            semantic = similarity if similarity >= MIN_SIMILARITY else 0.0
            score = 0.5 * lexical / best + 0.5 * semantic if self._vectors is not None else lexical
            if score > 0:
                scored.append((article, score))
        scored.sort(key=lambda pair: (_tier(pair[0], language), -pair[1]))
        return scored[:limit]

    def suggest(self, query: str, limit: int = 3, language: str = "") -> list[Suggestion]:
        terms = set(tokens(query))
        out = []
        for article, score in self.search(query, limit, language):
            paragraphs = [p.strip() for p in article.body.split("\n") if p.strip()] or [article.body]
            best = max(paragraphs, key=lambda p: len(terms & set(tokens(p))))
            out.append(Suggestion(article.id, article.title, best, score, article.language))
        return out


def _tier(article: Article, language: str) -> int:
    """0: the query's language; 1: an article without a language; 2: another language."""
    if not language or not article.language:
        return 1 if language else 0
    return 0 if article.language.split("-")[0].lower() == language.split("-")[0].lower() else 2
