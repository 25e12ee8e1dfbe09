"""A tenant's texts as a language-model corpus in the recogniser's words."""

from __future__ import annotations

import pytest

from ai.domain.speech_vocabulary import MAX_WORDS, corpus_sentences
from ai.service_layer.transcription_vocabulary import (
    KNOWLEDGE,
    MAX_TRAINED_CHARACTERS,
    MAX_TRAINED_SENTENCES,
    PHRASES,
    PhraseListError,
    StoredVocabulary,
)

DICTIONARY = {"where", "is", "my", "order", "four", "two", "refund", "please", "cancel", "it"}


def test_sentences_are_split_lowered_and_kept_to_known_words() -> None:
    texts = ["Where is my ORDER #42? Refund, please!", "Cancel it; cancel it.", "Zyxq"]
    assert corpus_sentences(texts, DICTIONARY.__contains__) == [
        "where is my order four two",
        "refund please",
        "cancel it",
    ]


def test_long_texts_are_cut_and_nothing_known_gives_nothing() -> None:
    long = " ".join(["order"] * (MAX_WORDS + 10))
    assert corpus_sentences([long], DICTIONARY.__contains__) == [" ".join(["order"] * MAX_WORDS)]
    assert corpus_sentences(["", "!!!", "qwerty"], DICTIONARY.__contains__) == []


class Artifacts:
    """The region's artifact bucket, in memory."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], object] = {}

    async def get_artifact(self, kind: str, tenant_id: str):
        value = self.values.get((kind, tenant_id))
        return None if value is None else (value, 1)

    async def put_artifact(self, kind: str, tenant_id: str, value) -> int:
        self.values[(kind, tenant_id)] = value
        return 1

    async def watch(self, kind: str, callback) -> None:
        return None


async def test_a_trained_models_examples_phrases_and_articles_make_the_vocabulary() -> None:
    store = Artifacts()
    vocabulary = StoredVocabulary(store)
    assert await vocabulary.sentences("acme") == []
    # A model trained through the RPC keeps no sentences: the training hands them over.
    await vocabulary.remember_intent_examples(
        "acme", {"order_status": ["where is my order"], "refund": ["refund me"]}
    )
    store.values[(PHRASES, "acme")] = {"phrases": ["talk to a manager"]}
    store.values[(KNOWLEDGE, "acme")] = {"articles": [{"title": "Returns", "body": "send it back"}]}
    assert await vocabulary.sentences("acme") == [
        "talk to a manager",
        "where is my order",
        "refund me",
        "Returns",
        "send it back",
    ]
    # Another tenant's training is not this one's vocabulary.
    assert await vocabulary.sentences("globex") == []


async def test_a_huge_training_set_is_kept_capped() -> None:
    store = Artifacts()
    vocabulary = StoredVocabulary(store)
    await vocabulary.remember_intent_examples(
        "acme", {"x": ["where is my order"] * (MAX_TRAINED_SENTENCES + 10)}
    )
    assert len(await vocabulary.sentences("acme")) == MAX_TRAINED_SENTENCES
    await vocabulary.remember_intent_examples("acme", {"x": ["a" * 1000] * 400})
    assert len(await vocabulary.sentences("acme")) == MAX_TRAINED_CHARACTERS // 1000


async def test_a_phrase_list_is_tidied_and_a_wrong_one_refused_by_phrase() -> None:
    store = Artifacts()
    vocabulary = StoredVocabulary(store)
    assert (
        await vocabulary.set_phrases("acme", ["  where is  my order ", "where is my order", "", "refund"])
        == 2
    )
    assert await vocabulary.sentences("acme") == ["where is my order", "refund"]
    with pytest.raises(PhraseListError, match=r"phrases\[1\]: 301 characters"):
        await vocabulary.set_phrases("acme", ["fine", "x" * 301])
    with pytest.raises(PhraseListError, match="at most 5000"):
        await vocabulary.set_phrases("acme", ["a"] * 5001)
    assert await vocabulary.sentences("acme") == ["where is my order", "refund"]
    assert await vocabulary.set_phrases("acme", []) == 0
