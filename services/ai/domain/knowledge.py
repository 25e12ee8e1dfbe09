"""The tenant's knowledge base and BM25 retrieval over it, in any supported language.

Tokens are lowercased words for spaced scripts and character bigrams for scripts written
without spaces (Chinese, Japanese, Thai), so one index serves every language. A suggested
reply is the best-matching paragraph of the best article, with the article it came from.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff]")
MAX_ARTICLE_CHARS = 100_000
MAX_ARTICLES = 10_000


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
    """BM25 (k1=1.5, b=0.75) over title + body of every article."""

    def __init__(self, articles: Sequence[Article], k1: float = 1.5, b: float = 0.75) -> None:
        self.articles = list(articles)
        self._k1, self._b = k1, b
        self._docs = [Counter(tokens(f"{a.title} {a.title} {a.body}")) for a in self.articles]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._average = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}

    def search(self, query: str, limit: int = 3) -> list[tuple[Article, float]]:
        terms = set(tokens(query))
        scored = []
        for article, doc, length in zip(self.articles, self._docs, self._lengths, strict=True):
            total = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = self._k1 * (1 - self._b + self._b * length / (self._average or 1))
                    total += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
            if total > 0:
                scored.append((article, total))
        scored.sort(key=lambda pair: pair[1], reverse=True)
        return scored[:limit]

    def suggest(self, query: str, limit: int = 3) -> list[Suggestion]:
        terms = set(tokens(query))
        out = []
        for article, score in self.search(query, limit):
            paragraphs = [p.strip() for p in article.body.split("\n") if p.strip()] or [article.body]
            best = max(paragraphs, key=lambda p: len(terms & set(tokens(p))))
            out.append(Suggestion(article.id, article.title, best, score))
        return out
