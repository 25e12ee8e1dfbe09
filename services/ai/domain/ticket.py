"""The structured ticket produced at wrap-up and handed to the integration service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ccpolicy.pii import Entity

PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Ticket:
    title: str
    category: str
    priority: str
    summary: str
    #: Kinds of personal data mentioned (the values stay in the conversation, not in the ticket).
    entity_kinds: tuple[str, ...]
    customer_ref: str


def priority_for(escalation_score: float, sentiment: float) -> str:
    if escalation_score >= 0.7:
        return "urgent"
    if escalation_score >= 0.4 or sentiment <= -0.5:
        return "high"
    if sentiment >= 0.3:
        return "low"
    return "normal"


def build_ticket(
    *,
    intent: str,
    summary: str,
    first_message: str,
    escalation_score: float,
    sentiment: float,
    entities: Sequence[Entity],
    customer_ref: str,
) -> Ticket:
    category = intent if intent and intent != "out_of_scope" else "general"
    headline = " ".join(first_message.split())
    if len(headline) > 80:
        headline = headline[:77].rsplit(" ", 1)[0] + "..."
    title = f"{category.replace('_', ' ').capitalize()}: {headline}" if headline else category
    return Ticket(
        title=title,
        category=category,
        priority=priority_for(escalation_score, sentiment),
        summary=summary,
        entity_kinds=tuple(sorted({e.kind for e in entities})),
        customer_ref=customer_ref,
    )
