"""Extractive summaries of a conversation: so far (live) and at wrap-up.

Sentences are scored by how many of the conversation's content words they carry (words
said more than once weigh more), the customer's first request always leads, and chosen
sentences keep their original order and speaker so the summary reads as a short story.
Input is the redacted text: a summary never holds personal data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_SENTENCE = re.compile(r"(?<=[.!?。\uff01\uff1f])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "to",
        "of",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "i",
        "you",
        "we",
        "it",
        "my",
        "your",
        "me",
        "this",
        "that",
        "with",
        "at",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "so",
        "can",
        "could",
        "would",
        "will",
        "just",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
        "ok",
        "okay",
        "el",
        "la",
        "los",
        "las",
        "de",
        "que",
        "y",
        "en",
        "un",
        "una",
        "por",
        "con",
        "para",
        "es",
        "mi",
        "me",
        "lo",
        "le",
        "se",
        "no",
        "si",
        "le",
        "du",
        "des",
        "et",
        "est",
        "je",
        "il",
        "ne",
        "pas",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "ich",
        "nicht",
        "ein",
        "eine",
        "zu",
        "mit",
        "o",
        "a",
        "os",
        "as",
        "um",
        "uma",
        "do",
        "da",
        "em",
        "com",
        "para",
    ]
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "customer", "agent" or "bot"
    text: str


def _sentences(turns: Sequence[Turn]) -> list[tuple[int, Turn, str]]:
    out = []
    for index, turn in enumerate(turns):
        for sentence in _SENTENCE.split(turn.text.strip()):
            if len(_WORD.findall(sentence)) >= 2:
                out.append((index, turn, sentence.strip()))
    return out


def summarize(turns: Sequence[Turn], max_sentences: int = 3) -> str:
    sentences = _sentences(turns)
    if not sentences:
        return ""
    words = Counter(
        w for _, _, s in sentences for w in {w.lower() for w in _WORD.findall(s)} if w.lower() not in _STOP
    )

    def weight(item: tuple[int, Turn, str]) -> float:
        content = [w.lower() for w in _WORD.findall(item[2]) if w.lower() not in _STOP]
        return float(sum(words[w] for w in set(content)) / (1 + len(content) ** 0.5))

    first_customer = next((s for s in sentences if s[1].speaker == "customer"), sentences[0])
    ranked = sorted((s for s in sentences if s is not first_customer), key=weight, reverse=True)
    chosen = [first_customer, *ranked[: max_sentences - 1]]
    chosen.sort(key=lambda s: sentences.index(s))
    return " ".join(f"{_label(turn.speaker)} {_sentence_end(text)}" for _, turn, text in chosen)


def _label(speaker: str) -> str:
    return {"customer": "Customer:", "agent": "Agent:", "bot": "Bot:"}.get(speaker, f"{speaker}:")


def _sentence_end(text: str) -> str:
    return text if text[-1:] in ".!?。\uff01\uff1f" else f"{text}."


def wrap_up(turns: Sequence[Turn], intent: str, sentiment_trend: float) -> str:
    """The end-of-contact summary: the gist, what it was about and how the customer left."""
    gist = summarize(turns, max_sentences=4)
    mood = "improved" if sentiment_trend > 0.2 else "worsened" if sentiment_trend < -0.2 else "stayed steady"
    topic = intent.replace("_", " ") if intent and intent != "out_of_scope" else "an unclassified request"
    messages = sum(1 for t in turns if t.speaker == "customer")
    return (
        f"Contact about {topic}; {messages} customer message(s); the customer's mood {mood}. {gist}".strip()
    )
