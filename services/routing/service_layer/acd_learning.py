"""What the AI service learns about a waiting contact reaches its place in the queue (its
language, and the latest intent in scope and sentiment).

The AI service analyses every inbound message and publishes an `ai_insight`. A contact that waits
takes the detected language from it, so the next offer goes to an agent who speaks it:

- a detection the AI service does not call reliable (a one-word "hello"), an undetermined
  language, or a contact that no longer waits (offered, assigned, closed): nothing;
- no language yet (the entry point has none, the detection before queueing had no answer): set;
- another language than the one it waits with: replaced only when the detection is confident.

The change is one write that names the revision it read (the store's `update_contact`), so it
never undoes an offer made in between: an offered contact is left as it is.

Most insights change nothing (the contact was offered before its message was analysed, or waits
with these values already). Given the instance's view of the contact (`seen`), such an insight
is judged there and costs no store operation; the store is asked only when the view says a
write is due, or does not know the contact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from routing.domain.contacts import ContactRecord, ContactStatus

#: Detection confidence from which a message's language replaces the one the contact waits with.
CONFIDENT = 0.9
UNDETERMINED = frozenset({"", "und"})
OUT_OF_SCOPE = frozenset({"out_of_scope", "unknown"})


class ContactUpdates(Protocol):
    async def update_contact(
        self, tenant: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord: ...


class _NotWaiting(Exception):
    pass


def should_take(current: str, detected: str, confidence: float, reliable: bool) -> bool:
    if not reliable or detected in UNDETERMINED or detected == current:
        return False
    return not current or confidence >= CONFIDENT


def learned_intent(current: str, detected: str) -> str:
    """The intent a waiting contact keeps: the latest one in scope (an out-of-scope message, a
    "thanks" while waiting, does not erase what the customer came for)."""
    detected = detected.strip()
    return detected if detected and detected not in OUT_OF_SCOPE else current


async def learn_language(
    store: ContactUpdates,
    tenant: str,
    contact_id: str,
    language: str,
    confidence: float,
    reliable: bool,
    *,
    intent: str = "",
    sentiment: float | None = None,
    seen: Callable[[str, str], ContactRecord | None] | None = None,
) -> bool:
    """Give the waiting contact what the AI found (its language by the rules above, the latest
    intent in scope, the latest sentiment); whether the language changed. `seen(tenant,
    contact_id)`: the contact's record as this instance's view knows it (None: unknown)."""
    language = language.strip().lower()
    changed: list[bool] = []

    def change(record: ContactRecord | None) -> ContactRecord:
        changed.clear()
        if record is None or record.status is not ContactStatus.WAITING:
            raise _NotWaiting
        contact = record.contact
        take_language = should_take(contact.language, language, confidence, reliable)
        new_intent = learned_intent(contact.intent, intent)
        new_sentiment = contact.sentiment if sentiment is None else max(-1.0, min(1.0, sentiment))
        if not take_language and (new_intent, new_sentiment) == (contact.intent, contact.sentiment):
            return record  # the same values: no write
        if take_language:
            changed.append(True)
        return replace(
            record,
            contact=replace(
                contact,
                language=language if take_language else contact.language,
                intent=new_intent,
                sentiment=new_sentiment,
            ),
        )

    known = seen(tenant, contact_id) if seen is not None else None
    if known is not None:
        try:
            if change(known) is known:
                return False  # waits with these values already
        except _NotWaiting:
            return False  # offered, assigned or closed by now
    try:
        await store.update_contact(tenant, contact_id, change)
    except _NotWaiting:
        return False
    return bool(changed)
