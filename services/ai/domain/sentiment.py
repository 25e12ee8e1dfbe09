"""Sentiment per message and as a trend over the conversation, for every supported language.

With the multilingual sentence encoder and its trained classifier (`sentiment_model`, in the
component context) the component asks the classifier; without them, or with setting
`method: lexicon`, it falls back to the lexicon below.

Lexicon (see `sentiment_lexicon`): explainable, instant and not English-only. A hit
counts +1/-1, a positive one flipped by a negator just before it; the score is squashed into -1..1.
Text in a language without a lexicon uses every lexicon (most hits come from the right one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ai.domain.component import (
    ComponentContext,
    ComponentError,
    ComponentSpec,
    Insights,
    Resources,
    SentenceEncoder,
    float_setting,
)
from ai.domain.sentiment_lexicon import EMOJI, NEGATIVE, NEGATORS, POSITIVE, UNSPACED
from ai.domain.sentiment_model import SentimentModel

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


#: Languages of the trained classifier: those of the multilingual encoder (UMSAB's Hindi is not one).
TRAINED_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"}
)
#: Languages the classifier learned written in Latin letters although the encoder lacks them:
#: UMSAB's Hindi tweets are romanized (the lexicon knows Devanagari Hindi).
ROMANIZED_TRAINED_LANGUAGES = frozenset({"hi"})
METHODS = ("auto", "lexicon")


def mostly_latin(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    return sum(char.isascii() for char in letters) * 2 > len(letters)


class SentimentComponent:
    spec = ComponentSpec(
        name="sentiment",
        consumes=frozenset({"language"}),
        produces=frozenset({"sentiment"}),
        languages=frozenset(POSITIVE) | TRAINED_LANGUAGES,
        resources=Resources(cpu_millis=10, memory_mb=10),
        version="umsab-classifier-1+lexicon-1+romanized-hi",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        method = settings.get("method", "auto")
        if method not in METHODS:
            raise ComponentError(f"setting 'method' must be one of {list(METHODS)}, got {method!r}")
        self._encoder: SentenceEncoder | None = None
        self._model: SentimentModel | None = None
        model, encoder = context.sentiment_model, context.sentence_encoder
        if method == "auto" and model is not None and encoder is not None and model.encoder == encoder.name:
            margin = float_setting(settings, "neutralMargin", model.neutral_margin)
            self._encoder, self._model = encoder, replace(model, neutral_margin=margin)

    @property
    def method(self) -> str:
        return "lexicon" if self._model is None else "trained"

    @staticmethod
    def _trained_for(language: str, text: str) -> bool:
        # Languages the encoder does not cover (hi, id, vi) keep to their lexicon, which knows
        # them, unless written the way the classifier learned them.
        if language in ROMANIZED_TRAINED_LANGUAGES:
            return mostly_latin(text)
        return language in TRAINED_LANGUAGES or language not in POSITIVE

    def analyse(self, insights: Insights) -> None:
        trained = self._trained_for(insights.language, insights.text[:MAX_CHARS])
        if self._model is None or self._encoder is None or not trained:
            insights.sentiment = score(insights.text, insights.language)
            insights.sentiment_label = label(insights.sentiment)
            return
        text = insights.text[:MAX_CHARS]
        (prediction,) = self._model.predict([text], self._encoder.encode_one(text)[None, :])
        insights.sentiment = prediction.score
        insights.sentiment_label = prediction.label
