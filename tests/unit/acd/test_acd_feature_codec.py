"""The stored form keeps language rules, brand sharing, closed actions and overflow marks, and
reads records stored before them with the old behaviour."""

import math

import orjson

from ccmesh.channels import Channel
from routing.adapters.acd_codec import contact_from_bytes, contact_to_bytes, queue_from_bytes, queue_to_bytes
from routing.domain.contacts import ContactRecord
from routing.domain.hours import BusinessHours
from routing.domain.language_rule import STRICT, language_rule
from routing.domain.overflow import NO_MARK, OverflowMark
from routing.domain.queueing import QueueSpec, WaitingContact


def test_queue_round_trip_keeps_the_new_settings() -> None:
    queue = QueueSpec(
        "acme",
        "support",
        brand="retail",
        language=language_rule("required", [(60, "preferred"), (180, "any")]),
        all_brands=True,
        hours=BusinessHours.parse(
            "UTC", {}, closed_action="queue", closed_target_queue="support", closed_target_region="us"
        ),
    )
    assert queue_from_bytes(queue_to_bytes(queue)) == queue
    told = QueueSpec("acme", "q", hours=BusinessHours.parse("UTC", {}, closed_message="Back soon"))
    assert queue_from_bytes(queue_to_bytes(told)).hours.closed_message == "Back soon"  # type: ignore[union-attr]


def test_contact_round_trip_keeps_closed_action_closing_time_and_overflow_mark() -> None:
    contact = WaitingContact("c1", "b", Channel.SMS, 50, 10.0)
    for mark in (NO_MARK, OverflowMark("a", 12.0, 8.0), OverflowMark("a", 12.0, math.inf)):
        record = ContactRecord(contact, closed_action="callback", closed_at=30.0, overflow=mark)
        assert contact_from_bytes(contact_to_bytes(record)) == record


def test_records_stored_before_the_features_read_with_the_old_behaviour() -> None:
    queue = orjson.loads(queue_to_bytes(QueueSpec("acme", "q")))
    del queue["language"], queue["all_brands"]
    old = queue_from_bytes(orjson.dumps(queue))
    assert (old.language, old.all_brands) == (STRICT, False)
    stored = orjson.loads(contact_to_bytes(ContactRecord(WaitingContact("c1", "q", Channel.SMS, 50, 1.0))))
    for key in ("closed_action", "closed_at", "overflow"):
        del stored[key]
    record = contact_from_bytes(orjson.dumps(stored))
    assert (record.closed_action, record.closed_at, record.overflow) == ("", 0.0, NO_MARK)


def test_contact_round_trip_keeps_what_the_ai_found_and_old_records_read_without_it() -> None:
    contact = WaitingContact("c1", "q", Channel.SMS, 50, 1.0, language="es", intent="refund", sentiment=-0.5)
    record = ContactRecord(contact)
    assert contact_from_bytes(contact_to_bytes(record)) == record
    stored = orjson.loads(contact_to_bytes(record))
    del stored["intent"], stored["sentiment"]
    old = contact_from_bytes(orjson.dumps(stored)).contact
    assert (old.language, old.intent, old.sentiment) == ("es", "", 0.0)


def test_contact_round_trip_keeps_the_offer_explanation_and_old_records_read_without_it() -> None:
    explanation = orjson.dumps({"agent_id": "a1", "rule": "longest_idle", "candidates": []}).decode()
    record = ContactRecord(WaitingContact("c1", "q", Channel.SMS, 50, 1.0), explanation=explanation)
    assert contact_from_bytes(contact_to_bytes(record)) == record
    stored = orjson.loads(contact_to_bytes(record))
    assert stored["explanation"] == explanation  # a string: the watch does not decode its inside
    del stored["explanation"]
    assert contact_from_bytes(orjson.dumps(stored)).explanation == ""
