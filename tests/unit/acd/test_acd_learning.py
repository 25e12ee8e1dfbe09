"""A waiting contact takes the language the AI service detects; offered contacts are left alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ccmesh.channels import Channel
from routing.domain.contacts import ContactRecord, ContactStatus, offer
from routing.domain.queueing import WaitingContact
from routing.service_layer.acd_learning import learn_language


class FakeContacts:
    """The store's `update_contact`: the change sees the record (None when absent) and its result is kept."""

    def __init__(self, *records: ContactRecord) -> None:
        self.records = {r.contact.contact_id: r for r in records}
        self.writes = 0

    async def update_contact(
        self, tenant: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord:
        old = self.records.get(contact_id)
        new = change(old)
        if new != old:
            self.writes += 1
            self.records[contact_id] = new
        return new


def waiting(contact_id: str, language: str = "") -> ContactRecord:
    return ContactRecord(WaitingContact(contact_id, "support", Channel.WEBCHAT, 50, 0.0, language=language))


@pytest.mark.parametrize(
    ("before", "detected", "confidence", "reliable", "after"),
    [
        ("", "es", 0.6, True, "es"),  # no language yet: a reliable detection is taken
        ("", "it", 0.36, False, ""),  # "hello": too little to route by
        ("en", "ja", 0.97, True, "ja"),  # the customer writes in another language than the entry point's
        ("de", "fr", 0.6, True, "de"),  # not sure enough to move the contact away from its speakers
        ("de", "und", 1.0, True, "de"),
        ("", "", 0.0, False, ""),
    ],
)
async def test_a_waiting_contact_takes_the_detected_language(
    before: str, detected: str, confidence: float, reliable: bool, after: str
) -> None:
    store = FakeContacts(waiting("c1", before))
    changed = await learn_language(store, "acme", "c1", detected, confidence, reliable)
    assert store.records["c1"].contact.language == after
    assert changed is (after != before) and store.writes == int(changed)


async def test_an_offered_or_unknown_contact_is_left_alone() -> None:
    offered = offer(waiting("c2"), "r1", "alice", 10.0)
    store = FakeContacts(offered)
    assert await learn_language(store, "acme", "c2", "es", 1.0, True) is False
    assert await learn_language(store, "acme", "nobody", "es", 1.0, True) is False
    assert store.records == {"c2": offered} and store.writes == 0
    assert offered.status is ContactStatus.OFFERED


async def test_a_waiting_contact_keeps_the_latest_intent_in_scope_and_sentiment() -> None:
    store = FakeContacts(waiting("c3", "en"))
    await learn_language(store, "acme", "c3", "en", 0.9, True, intent="refund", sentiment=-0.4)
    contact = store.records["c3"].contact
    assert (contact.language, contact.intent, contact.sentiment) == ("en", "refund", -0.4)
    # "thanks, still waiting": out of scope, calmer; the reason for the contact stays.
    await learn_language(store, "acme", "c3", "en", 0.9, True, intent="out_of_scope", sentiment=0.2)
    contact = store.records["c3"].contact
    assert (contact.intent, contact.sentiment) == ("refund", 0.2)
    # The same facts again are no write.
    writes = store.writes
    await learn_language(store, "acme", "c3", "en", 0.9, True, intent="refund", sentiment=0.2)
    assert store.writes == writes


async def test_an_offered_contact_keeps_its_intent() -> None:
    offered = offer(waiting("c4"), "r1", "alice", 10.0)
    store = FakeContacts(offered)
    await learn_language(store, "acme", "c4", "es", 1.0, True, intent="refund", sentiment=-1.0)
    assert store.records["c4"].contact.intent == ""


class CountingContacts(FakeContacts):
    """Counts every call, a write or only a read (the real store reads when nothing is written)."""

    def __init__(self, *records: ContactRecord) -> None:
        super().__init__(*records)
        self.calls = 0

    async def update_contact(
        self, tenant: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord:
        self.calls += 1
        return await super().update_contact(tenant, contact_id, change)


async def test_an_insight_the_view_shows_changes_nothing_costs_no_store_operation() -> None:
    offered = offer(waiting("c1"), "r1", "a1", 30.0)
    same = ContactRecord(
        WaitingContact("c2", "support", Channel.WEBCHAT, 50, 0.0, language="es", intent="refund")
    )
    store = CountingContacts(offered, same, waiting("c3", "de"))
    view = {r.contact.contact_id: r for r in store.records.values()}

    def seen(_tenant: str, contact_id: str) -> ContactRecord | None:
        return view.get(contact_id)

    assert await learn_language(store, "acme", "c1", "es", 1.0, True, seen=seen) is False
    assert await learn_language(store, "acme", "c2", "es", 1.0, True, intent="refund", seen=seen) is False
    assert store.calls == 0
    # A change the view shows due goes to the store, which decides on the stored record.
    assert await learn_language(store, "acme", "c3", "ja", 0.97, True, seen=seen) is True
    assert store.records["c3"].contact.language == "ja" and store.calls == 1
    # A contact the view does not know is asked of the store.
    assert await learn_language(store, "acme", "c4", "es", 1.0, True, seen=seen) is False
    assert store.calls == 2 and store.writes == 1
