"""An AI insight told for people: the one wording every page, timeline and CLI shows.

The ai service's records speak its internal vocabulary (`out_of_scope`, a score in -1..1, a
pipeline and message id); agents, supervisors and customers' histories read this instead.
"""

from __future__ import annotations

from contactcenter.events.v1 import events_pb2

#: What people see for a message no trained intent fits.
UNKNOWN_INTENT = "unknown"
_OUT_OF_SCOPE = {"", "out_of_scope"}
#: Sentiment (-1..1) beyond these reads as negative or positive; between them, neutral.
NEGATIVE_BELOW, POSITIVE_ABOVE = -0.25, 0.25


def intent_label(intent: str) -> str:
    """`order_status` -> "order status"; out of scope (or none) -> "unknown"."""
    return UNKNOWN_INTENT if intent in _OUT_OF_SCOPE else intent.replace("_", " ")


def sentiment_label(score: float) -> str:
    if score <= NEGATIVE_BELOW:
        return "negative"
    if score >= POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def describe(insight: events_pb2.AiInsight) -> str:
    """One line, e.g. "Intent: order status (82%) · sentiment: negative · language: en"."""
    intent = intent_label(insight.intent)
    parts = [f"Intent: {intent}" + (f" ({insight.intent_score:.0%})" if intent != UNKNOWN_INTENT else "")]
    parts.append(f"sentiment: {sentiment_label(insight.sentiment)}")
    # Only a detection sure enough to route by (never "und"): "no" read as Italian is no news
    # to an agent.
    if insight.language and insight.language_reliable:
        parts.append(f"language: {insight.language}")
    if insight.escalation_reasons:
        parts.append("escalate: " + ", ".join(insight.escalation_reasons))
    return " · ".join(parts)
