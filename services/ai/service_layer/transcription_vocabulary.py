"""A tenant's vocabulary for its speech language model, read from what it already configured:
its intents' training examples, its knowledge base (titles and bodies) and its phrase list
(artifact `speech-phrases`: `{"phrases": [...]}`).

A trained intent model keeps no sentences, so the examples it was trained on are kept for speech
when a training succeeds (artifact `speech-intents`, capped: a language model needs the words
and their order, not ten thousand variants); examples stored with the intent artifact itself
(a training set applied as configuration) are read from there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai.service_layer.intent_ports import Artifacts

INTENTS = "intent"
KNOWLEDGE = "kb"
PHRASES = "speech-phrases"
TRAINED = "speech-intents"
#: A tenant's phrase list: how many, and how long each.
MAX_PHRASES = 5000
MAX_PHRASE_CHARACTERS = 300


class PhraseListError(ValueError):
    """A phrase list the service refuses; the text names the phrase."""


#: Kept of a training set for speech: sentences and characters (a KV value stays small).
MAX_TRAINED_SENTENCES = 5000
MAX_TRAINED_CHARACTERS = 300_000


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
        sentences += [
            t
            for t in _texts(await self._store.get_artifact(TRAINED, tenant_id), "sentences")
            if isinstance(t, str)
        ]
        examples = _texts(await self._store.get_artifact(INTENTS, tenant_id), "examples")
        if isinstance(examples, dict):
            for texts in examples.values():
                sentences += [t for t in texts if isinstance(t, str)]
        for article in _texts(await self._store.get_artifact(KNOWLEDGE, tenant_id), "articles"):
            if isinstance(article, dict):
                sentences += [str(article.get("title", "")), str(article.get("body", ""))]
        return sentences

    async def remember_intent_examples(self, tenant_id: str, examples: Mapping[str, Sequence[str]]) -> None:
        """Keep the sentences a tenant's intent model was trained on, for its next calls."""
        kept: list[str] = []
        characters = 0
        for texts in examples.values():
            for text in texts:
                characters += len(text)
                if len(kept) >= MAX_TRAINED_SENTENCES or characters > MAX_TRAINED_CHARACTERS:
                    break
                kept.append(text)
        await self._store.put_artifact(TRAINED, tenant_id, {"sentences": kept})

    async def set_phrases(self, tenant_id: str, phrases: Sequence[str]) -> int:
        """Replace the tenant's phrase list (read when a call starts); the phrases kept."""
        if len(phrases) > MAX_PHRASES:
            raise PhraseListError(f"phrases: at most {MAX_PHRASES}, got {len(phrases)}")
        kept: list[str] = []
        for index, phrase in enumerate(phrases):
            text = " ".join(phrase.split())
            if len(text) > MAX_PHRASE_CHARACTERS:
                raise PhraseListError(
                    f"phrases[{index}]: {len(text)} characters; the maximum is {MAX_PHRASE_CHARACTERS}"
                )
            if text and text not in kept:
                kept.append(text)
        await self._store.put_artifact(PHRASES, tenant_id, {"phrases": kept})
        return len(kept)
