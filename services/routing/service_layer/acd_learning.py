"""What the AI service learns about a waiting contact reaches its place in the queue.

The AI service analyses every inbound message and publishes an `ai_insight`. A contact that waits
takes the detected language from it, so the next offer goes to an agent who speaks it:

- a detection the AI service does not call reliable (a one-word "hello"), an undetermined
  language, or a contact that no longer waits (offered, assigned, closed): nothing;
- no language yet (the entry point has none, the detection before queueing had no answer): set;
- another language than the one it waits with: replaced only when the detection is confident.

The change is one write that names the revision it read (the store's `update_contact`), so it
never undoes an offer made in between: an offered contact is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from routing.domain.contacts import ContactRecord, ContactStatus

#: Detection confidence from which a message's language replaces the one the contact waits with.
CONFIDENT = 0.9
UNDETERMINED = frozenset({"", "und"})


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


async def learn_language(
    store: ContactUpdates, tenant: str, contact_id: str, language: str, confidence: float, reliable: bool
) -> bool:
    """Give the waiting contact the detected language; whether it changed."""
    language = language.strip().lower()
    changed: list[bool] = []

    def change(record: ContactRecord | None) -> ContactRecord:
        changed.clear()
        if record is None or record.status is not ContactStatus.WAITING:
            raise _NotWaiting
        if not should_take(record.contact.language, language, confidence, reliable):
            return record  # the same value: no write
        changed.append(True)
        return replace(record, contact=replace(record.contact, language=language))

    try:
        await store.update_contact(tenant, contact_id, change)
    except _NotWaiting:
        return False
    return bool(changed)
