"""A tenant's texts as a language-model corpus in the recogniser's words."""

from __future__ import annotations

from ai.domain.speech_vocabulary import MAX_WORDS, corpus_sentences

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
