"""The PII component: entities (e-mail, phone, card, IBAN, national id, tenant order numbers)
and the redacted copy of the message that stores and logs keep instead of the original."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ai.domain.component import ComponentContext, ComponentError, ComponentSpec, Insights, Resources
from ai.domain.pii import redact

#: Long texts are redacted whole; this bounds the cost of a tenant's order-number pattern.
MAX_PATTERN_CHARS = 500


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
        resources=Resources(cpu_millis=5, memory_mb=5),
        version="rules-1",
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        raw = settings.get("orderNumberPattern", "")
        self._order_patterns = (compile_order_pattern(raw),) if raw else ()

    def analyse(self, insights: Insights) -> None:
        insights.redacted_text, insights.entities = redact(insights.text, self._order_patterns)
