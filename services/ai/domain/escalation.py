"""Escalation recommendation: a 0..1 score with the reasons that raised it.

Read by the journey engine. Each signal adds its weight and one human-readable reason, so an
agent or supervisor can see why (`sentiment falling`, `asked to cancel`, `third contact`...).
"""

from __future__ import annotations

from collections.abc import Mapping

from ai.domain.component import ComponentContext, ComponentSpec, Insights, Resources, float_setting
from ai.domain.sentiment import trend

#: Intents whose mere presence calls for a human (matched as substrings of the intent name).
RISKY_INTENT_WORDS = ("cancel", "complain", "fraud", "refund", "legal", "dispute", "damaged", "lost")


def escalation(
    sentiment: float,
    previous: list[float],
    intent: str,
    repeat_contacts: int,
    wait_seconds: float,
    *,
    long_wait_seconds: float = 300.0,
) -> tuple[float, list[str]]:
    score = 0.0
    reasons: list[str] = []
    if sentiment <= -0.5:
        score += 0.35
        reasons.append(f"very negative message (sentiment {sentiment:.2f})")
    elif sentiment < -0.2:
        score += 0.15
        reasons.append(f"negative message (sentiment {sentiment:.2f})")
    direction = trend([*previous, sentiment])
    if len(previous) >= 1 and direction <= -0.3:
        score += 0.2
        reasons.append(f"sentiment falling over the conversation (trend {direction:.2f})")
    risky = next((w for w in RISKY_INTENT_WORDS if w in intent), None)
    if risky:
        score += 0.25
        reasons.append(f"intent {intent!r} is sensitive ({risky})")
    if repeat_contacts >= 2:
        score += min(0.3, 0.1 * repeat_contacts)
        reasons.append(f"{repeat_contacts} earlier contacts about this")
    if wait_seconds >= long_wait_seconds:
        score += 0.15
        reasons.append(f"waited {wait_seconds:.0f} s")
    return min(1.0, score), reasons


class EscalationComponent:
    spec = ComponentSpec(
        name="escalation",
        # The conversation so far: earlier sentiments, repeat contacts, the wait.
        consumes=frozenset({"sentiment", "history"}),
        produces=frozenset({"escalation"}),
        resources=Resources(cpu_millis=1, memory_mb=1),
    )

    def __init__(self, settings: Mapping[str, str], context: ComponentContext) -> None:
        self._long_wait = float_setting(settings, "longWaitSeconds", 300.0)

    def analyse(self, insights: Insights) -> None:
        insights.escalation_score, insights.escalation_reasons = escalation(
            insights.sentiment,
            insights.previous_sentiments,
            insights.intent,
            insights.repeat_contacts,
            insights.wait_seconds,
            long_wait_seconds=self._long_wait,
        )
