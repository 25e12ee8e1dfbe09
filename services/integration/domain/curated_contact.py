"""What of a stored contact may leave the analytics store for business systems (pure): the one
PII-minimised view, used by exports and by the contact records streamed to subscribers.

Who the customer is (the pseudonymous customer id) and which tenant owns the row stay behind; a
mean sentiment is given only where messages were analysed (never a made-up 0).
"""

from __future__ import annotations

from typing import Any

from integration.domain.analytics_facts import ContactFact

#: The fields of a `ContactFact` that are passed on as they are.
CURATED_FIELDS: tuple[str, ...] = (
    "brand",
    "channel",
    "queue",
    "final_queue",
    "agent",
    "language",
    "intent",
    "outcome",
    "created_at",
    "queued_at",
    "answered_at",
    "closed_at",
    "wait_seconds",
    "handle_seconds",
    "acw_seconds",
    "abandon_seconds",
    "transfers",
    "answered",
    "abandoned",
)


def curated(fact: ContactFact) -> dict[str, Any]:
    """The contact's curated fields by name (the names of `ExportedContact`/`ContactRecord`)."""
    fields: dict[str, Any] = {name: getattr(fact, name) for name in CURATED_FIELDS}
    if fact.sentiment_count:
        fields["sentiment"] = fact.sentiment_sum / fact.sentiment_count
    return fields
