"""The PII component: entities (e-mail, phone, card, IBAN, national id, tenant order numbers)
and the redacted copy of the message that stores and logs keep instead of the original.

Phone numbers in national format are read for the countries in setting `phoneRegions`
(comma-separated ISO 3166 codes: the tenant's and the region's countries), plus those where the
message's language is mostly spoken when a language step ran before; international numbers
(+81 ..., 0049 ...) are found whatever the countries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers

from ai.domain.component import ComponentContext, ComponentError, ComponentSpec, Insights, Resources
from ccpolicy.pii import DEFAULT_REGIONS, redact

#: Long texts are redacted whole; this bounds the cost of a tenant's order-number pattern.
MAX_PATTERN_CHARS = 500


#: Countries whose national phone formats a message in this language most likely uses.
REGIONS_BY_LANGUAGE: Mapping[str, tuple[str, ...]] = {
    "ar": ("SA", "AE", "EG", "MA"),
    "de": ("DE", "AT", "CH"),
    "en": ("US", "GB", "CA", "AU", "IN"),
    "es": ("ES", "MX", "AR", "CO"),
    "fr": ("FR", "BE", "CA"),
    "hi": ("IN",),
    "it": ("IT",),
    "ja": ("JP",),
    "ko": ("KR",),
    "nl": ("NL", "BE"),
    "pl": ("PL",),
    "pt": ("BR", "PT"),
    "ru": ("RU",),
    "tr": ("TR",),
    "zh": ("CN", "TW", "HK"),
}


def parse_regions(raw: str) -> tuple[str, ...]:
    regions = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ComponentError(
            f"setting 'phoneRegions' names unknown countries {unknown}: use ISO 3166 codes such as ES,BR,JP"
        )
    return regions


def compile_order_pattern(raw: str) -> re.Pattern[str]:
    if len(raw) > MAX_PATTERN_CHARS:
        raise ComponentError(f"setting 'orderNumberPattern' is longer than {MAX_PATTERN_CHARS} characters")
    try:
        pattern = re.compile(raw)
    except re.error as error:
        raise ComponentError(
            f"setting 'orderNumberPattern' is not a valid regular expression: {error}"
        ) from None
    if pattern.match(""):
        raise ComponentError("setting 'orderNumberPattern' matches the empty string")
    return pattern


class PiiComponent:
    spec = ComponentSpec(
        name="pii",
        consumes=frozenset({"text"}),
        produces=frozenset({"entities", "redacted_text"}),
        resources=Resources(cpu_millis=5, memory_mb=10),
        version="libphonenumber-stdnum-1",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        raw = settings.get("orderNumberPattern", "")
        self._order_patterns = (compile_order_pattern(raw),) if raw else ()
        self._regions = parse_regions(settings.get("phoneRegions", "")) or DEFAULT_REGIONS

    def regions_for(self, language: str) -> tuple[str, ...]:
        extra = [r for r in REGIONS_BY_LANGUAGE.get(language, ()) if r not in self._regions]
        return self._regions + tuple(extra)

    def id_regions_for(self, language: str) -> tuple[str, ...]:
        """The tenant's countries and the language's main one: a weakly checked id (Aadhaar) of a
        country that only shares the language (English, India) would mostly be an order number."""
        main = REGIONS_BY_LANGUAGE.get(language, ())[:1]
        return self._regions + tuple(r for r in main if r not in self._regions)

    def analyse(self, insights: Insights) -> None:
        insights.redacted_text, insights.entities = redact(
            insights.text,
            self._order_patterns,
            self.regions_for(insights.language),
            self.id_regions_for(insights.language),
        )
