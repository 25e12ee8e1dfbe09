"""A tenant's vocabulary as a language-model corpus: its sentences, in the recogniser's words.

A recogniser can only say words its pronunciation dictionary knows, so the corpus keeps those
and drops the rest (a product code or a name the dictionary lacks would only make the model
predict a word it can never emit). Digits become words ("2" -> "two"), because callers say them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")
_SENTENCE_BREAK = re.compile(r"[.!?;\n]+")
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Sentences longer than this are cut: a knowledge-base article is many sentences, not one.
MAX_WORDS = 40


def _spoken(token: str) -> list[str]:
    if token.isdigit():
        return [_DIGITS[int(digit)] for digit in token]
    return [token]


def corpus_sentences(texts: Iterable[str], known: Callable[[str], bool]) -> list[str]:
    """Texts -> lower-case sentences of known words, one per sentence of the input, deduplicated
    in order; sentences left empty are dropped."""
    seen: set[str] = set()
    sentences: list[str] = []
    for text in texts:
        for piece in _SENTENCE_BREAK.split(text.lower()):
            words = [spoken for token in _WORD.findall(piece) for spoken in _spoken(token) if known(spoken)][
                :MAX_WORDS
            ]
            sentence = " ".join(words)
            if sentence and sentence not in seen:
                seen.add(sentence)
                sentences.append(sentence)
    return sentences
