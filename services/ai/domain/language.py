"""Language detection with lingua (models ship inside the wheel; nothing is downloaded).

Only the supported languages are loaded, once per process, and shared by every pipeline.
Text with no letters at all (digits, emoji, binary garbage) is `und` with confidence 0.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from ai.domain.component import ComponentContext, ComponentSpec, Insights, Resources, float_setting

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
    values = detector().compute_language_confidence_values(sample)
    if not values:
        return UNDETERMINED, 0.0
    best = values[0]
    return _CODES[best.language], float(best.value)


class LanguageComponent:
    spec = ComponentSpec(
        name="language",
        consumes=frozenset({"text"}),
        produces=frozenset({"language"}),
        languages=frozenset(SUPPORTED),
        resources=Resources(cpu_millis=50, memory_mb=300),
        version="lingua-2",
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
