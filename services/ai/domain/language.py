"""Language detection with lingua (models ship inside the wheel; nothing is downloaded).

Only the supported languages are loaded, once per process, and shared by every pipeline.
Text with no letters at all (digits, emoji, binary garbage) is `und` with confidence 0.
Hindi written in Latin letters, which lingua does not know, is recognised by its grammar words
(`language_romanized`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from ai.domain.component import ComponentContext, ComponentSpec, Insights, Resources, float_setting
from ai.domain.language_romanized import romanized_hindi_share

SUPPORTED: dict[str, Language] = {
    "en": Language.ENGLISH,
    "es": Language.SPANISH,
    "pt": Language.PORTUGUESE,
    "fr": Language.FRENCH,
    "de": Language.GERMAN,
    "it": Language.ITALIAN,
    "zh": Language.CHINESE,
    "ja": Language.JAPANESE,
    "ko": Language.KOREAN,
    "ar": Language.ARABIC,
    "hi": Language.HINDI,
    "id": Language.INDONESIAN,
    "vi": Language.VIETNAMESE,
    "th": Language.THAI,
}
UNDETERMINED = "und"
_CODES = {language: code for code, language in SUPPORTED.items()}
#: Long texts are classified on their start: enough signal, bounded cost.
MAX_CHARS = 2000
#: E-mail addresses and links say nothing about the language around them.
_NOT_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\[[A-Z_]+\]")


@functools.cache
def detector() -> LanguageDetector:
    return (
        LanguageDetectorBuilder.from_languages(*SUPPORTED.values()).with_preloaded_language_models().build()
    )


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence 0..1), or ("und", 0.0) when the text has no letters."""
    sample = _NOT_LANGUAGE.sub(" ", text[:MAX_CHARS])
    if not any(char.isalpha() for char in sample):
        return UNDETERMINED, 0.0
    hindi = romanized_hindi_share(sample)
    if hindi:
        # As sure as a clear detection once a quarter of the words are Hindi grammar words.
        return "hi", min(1.0, 0.5 + hindi * 1.5)
    values = detector().compute_language_confidence_values(sample)
    if not values:
        return UNDETERMINED, 0.0
    best = values[0]
    return _CODES[best.language], float(best.value)


#: A detection from this confidence on is routed by, however short the text ("Bonjour", "こんにちは").
CLEAR = 0.8
#: Below this confidence a detection is never routed by.
UNSURE = 0.5
#: Words (or, for scripts written without spaces, characters) from which a text is long enough.
ENOUGH_WORDS = 3
ENOUGH_UNSPACED_CHARS = 4


def reliable(text: str, code: str, confidence: float) -> bool:
    """Whether the detected language is sure enough to look for its speakers: a clear detection,
    or a fair one on a text of a few words. "hello" (Italian, 0.36) and "ok" (Indonesian, 0.54)
    are not; "where is my order" (English, 0.55) is."""
    if code == UNDETERMINED or confidence < UNSURE:
        return False
    if confidence >= CLEAR:
        return True
    words = _NOT_LANGUAGE.sub(" ", text).split()
    unspaced = sum(1 for char in text if "\u3040" <= char <= "\u9fff" or "\u0e00" <= char <= "\u0e7f")
    return len(words) >= ENOUGH_WORDS or unspaced >= ENOUGH_UNSPACED_CHARS


class LanguageComponent:
    spec = ComponentSpec(
        name="language",
        consumes=frozenset({"text"}),
        produces=frozenset({"language"}),
        languages=frozenset(SUPPORTED),
        resources=Resources(cpu_millis=50, memory_mb=300),
        version="lingua-2+romanized-hindi-1",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        #: Below this confidence the tenant's `fallback` language is used instead.
        self._min_confidence = float_setting(settings, "minConfidence", 0.0)
        self._fallback = settings.get("fallback", UNDETERMINED)
        detector()  # load the models now, not on the first message

    def analyse(self, insights: Insights) -> None:
        code, confidence = detect(insights.text)
        if confidence < self._min_confidence:
            code = self._fallback
        insights.language, insights.language_confidence = code, confidence
