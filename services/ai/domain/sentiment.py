"""Sentiment per message and as a trend over the conversation, for every supported language.

Lexicon-based (see `sentiment_lexicon`): explainable, instant and not English-only. A hit
counts +1/-1, a positive one flipped by a negator just before it; the score is squashed into -1..1.
Text in a language without a lexicon uses every lexicon (most hits come from the right one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ai.domain.component import ComponentContext, ComponentSpec, Insights, Resources
from ai.domain.sentiment_lexicon import EMOJI, NEGATIVE, NEGATORS, POSITIVE, UNSPACED

_TOKEN = re.compile("[\\w'\u2019]+", re.UNICODE)
MAX_CHARS = 5000
NEUTRAL_BAND = 0.2


def _polarity_of_token(token: str, language: str) -> float:
    for stem in POSITIVE.get(language, ()):
        if " " not in stem and token.startswith(stem):
            return 1.0
    for stem in NEGATIVE.get(language, ()):
        if " " not in stem and token.startswith(stem):
            return -1.0
    return 0.0


def _score_in(text: str, language: str) -> tuple[float, int]:
    lowered = text.lower()
    total = 0.0
    hits = 0
    if language in UNSPACED:
        for stem in POSITIVE[language]:
            count = lowered.count(stem)
            total, hits = total + count, hits + count
        for stem in NEGATIVE[language]:
            count = lowered.count(stem)
            total, hits = total - count, hits + count
        return total, hits
    # Multi-word entries ("terima kasih", "immer noch") are matched as phrases first.
    for stem in POSITIVE.get(language, ()):
        if " " in stem and stem in lowered:
            total, hits = total + 1, hits + 1
    for stem in NEGATIVE.get(language, ()):
        if " " in stem and stem in lowered:
            total, hits = total - 1, hits + 1
    tokens = _TOKEN.findall(lowered)
    negators = NEGATORS.get(language, ())
    for index, token in enumerate(tokens):
        polarity = _polarity_of_token(token, language)
        # Only praise is flipped ("not good"); a negated complaint stays one, as in Spanish
        # or French double negation ("no llega nunca").
        if polarity > 0 and any(t in negators for t in tokens[max(0, index - 3) : index]):
            polarity = -polarity * 0.8
        if polarity:
            total, hits = total + polarity, hits + 1
    return total, hits


def score(text: str, language: str = "") -> float:
    """-1 (very negative) .. 1 (very positive); 0 when nothing is said either way."""
    sample = text[:MAX_CHARS]
    if language in POSITIVE:
        total, hits = _score_in(sample, language)
    else:
        total, hits = 0.0, 0
        for candidate in POSITIVE:
            t, h = _score_in(sample, candidate)
            total, hits = total + t, hits + h
    total += sum(weight * sample.count(symbol) for symbol, weight in EMOJI.items())
    if sample.count("!") >= 2 and total < 0:
        total *= 1.3
    return max(-1.0, min(1.0, total / 2.0))


def label(value: float) -> str:
    if value >= NEUTRAL_BAND:
        return "positive"
    if value <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def trend(scores: Sequence[float], window: int = 3) -> float:
    """Recent mood minus earlier mood: < 0 means the conversation is getting worse."""
    if len(scores) < 2:
        return 0.0
    recent = scores[-window:]
    earlier = scores[:-window] or scores[:1]
    return sum(recent) / len(recent) - sum(earlier) / len(earlier)


class SentimentComponent:
    spec = ComponentSpec(
        name="sentiment",
        consumes=frozenset({"language"}),
        produces=frozenset({"sentiment"}),
        languages=frozenset(POSITIVE),
        resources=Resources(cpu_millis=5, memory_mb=5),
        version="lexicon-1",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        pass

    def analyse(self, insights: Insights) -> None:
        insights.sentiment = score(insights.text, insights.language)
        insights.sentiment_label = label(insights.sentiment)
