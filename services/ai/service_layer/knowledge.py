"""Per-tenant knowledge bases: load articles, search them, suggest replies."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ai.adapters.tenant_store import TenantStore
from ai.domain.knowledge import (
    MAX_ARTICLES,
    Article,
    Encoder,
    KnowledgeError,
    KnowledgeIndex,
    Suggestion,
    validate,
)
from ai.domain.language import UNDETERMINED, detect

KIND = "kb"


def language_of(text: str) -> str:
    """The language a query is written in ("" when it cannot be told)."""
    code, _ = detect(text)
    return "" if code == UNDETERMINED else code


class KnowledgeBases:
    def __init__(self, store: TenantStore, encoder: Encoder | None = None) -> None:
        self._store = store
        #: Paraphrases match through sentence embeddings when the encoder is installed.
        self._encoder = encoder
        self._indexes: dict[str, KnowledgeIndex] = {}

    async def start(self) -> None:
        await self._store.watch(KIND, self._on_stored)

    async def load(self, tenant_id: str, articles: Sequence[Article], replace: bool) -> int:
        for article in articles:
            validate(article)  # raises KnowledgeError naming the article
        ids = [a.id for a in articles]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise KnowledgeError(f"article ids repeated in one load: {repeated[:5]}")
        existing: dict[str, Article] = {}
        if not replace:
            stored = await self._store.get_artifact(KIND, tenant_id)
            if stored is not None:
                existing = {a["id"]: Article(**a) for a in stored[0]["articles"]}
        existing.update({a.id: a for a in articles})
        if len(existing) > MAX_ARTICLES:
            raise KnowledgeError(
                f"a knowledge base holds at most {MAX_ARTICLES} articles, got {len(existing)}"
            )
        merged = list(existing.values())
        await self._store.put_artifact(KIND, tenant_id, {"articles": [a.__dict__ for a in merged]})
        self._indexes[tenant_id] = await asyncio.to_thread(self._index, merged)
        return len(merged)

    async def _on_stored(self, tenant_id: str, value: Any, revision: int) -> None:
        articles = [Article(**a) for a in value["articles"]]
        self._indexes[tenant_id] = await asyncio.to_thread(self._index, articles)

    def _index(self, articles: Sequence[Article]) -> KnowledgeIndex:
        return KnowledgeIndex(articles, encoder=self._encoder)

    async def suggest(self, tenant_id: str, query: str, limit: int, language: str = "") -> list[Suggestion]:
        """Replies from the tenant's articles, those in `language` (the customer's) first."""
        index = self._indexes.get(tenant_id)
        if index is None or not query.strip():
            return []
        # The query's embedding is model inference: off the event loop.
        return await asyncio.to_thread(index.suggest, query, limit, language)
