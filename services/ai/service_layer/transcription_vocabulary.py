"""A tenant's vocabulary for its speech language model, read from what it already configured:
its intents' training examples (when stored with the model), its knowledge base (titles and
bodies) and its phrase list (artifact `speech-phrases`: `{"phrases": [...]}`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai.service_layer.intent_ports import Artifacts

INTENTS = "intent"
KNOWLEDGE = "kb"
PHRASES = "speech-phrases"


def _texts(stored: tuple[Any, int] | None, key: str) -> list[Any]:
    if stored is None or not isinstance(stored[0], dict):
        return []
    value = stored[0].get(key)
    return value if isinstance(value, list | dict) else []  # type: ignore[return-value]


class StoredVocabulary:
    def __init__(self, store: Artifacts) -> None:
        self._store = store

    async def sentences(self, tenant_id: str) -> Sequence[str]:
        sentences: list[str] = [
            p
            for p in _texts(await self._store.get_artifact(PHRASES, tenant_id), "phrases")
            if isinstance(p, str)
        ]
        examples = _texts(await self._store.get_artifact(INTENTS, tenant_id), "examples")
        if isinstance(examples, dict):
            for texts in examples.values():
                sentences += [t for t in texts if isinstance(t, str)]
        for article in _texts(await self._store.get_artifact(KNOWLEDGE, tenant_id), "articles"):
            if isinstance(article, dict):
                sentences += [str(article.get("title", "")), str(article.get("body", ""))]
        return sentences
