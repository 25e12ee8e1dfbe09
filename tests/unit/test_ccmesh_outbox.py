"""The outbox's pure part: staging messages in a record's value, carrying and removing them."""

from __future__ import annotations

import orjson
import pytest

from ccmesh.envelope import new_event, stable_event_id
from ccmesh.outbox import Entry, OutboxError, SentIds, carry, due, entries_of, entry_of_event, without
from contactcenter.events.v1 import events_pb2


def entry(msg_id: str, at: float = 10.0, tag: str = "") -> Entry:
    return Entry(f"ccevt.eu.t1.contact_offered.{msg_id}", msg_id, b"\x00\x01" + msg_id.encode(), at, tag)


def test_a_new_value_carries_the_added_entries_and_keeps_its_fields() -> None:
    value = carry(None, orjson.dumps({"state": "offered", "n": {"x": 1}}), add=[entry("a")])
    assert value is not None
    assert orjson.loads(value)["state"] == "offered"
    assert orjson.loads(value)["n"] == {"x": 1}
    assert entries_of(value) == [entry("a")]


def test_an_empty_object_takes_entries_too() -> None:
    assert entries_of(carry(None, b"{}", add=[entry("a")])) == [entry("a")]


def test_a_state_change_keeps_the_unsent_entries_of_the_old_value() -> None:
    old = carry(None, orjson.dumps({"v": 1}), add=[entry("a")])
    new = carry(old, orjson.dumps({"v": 2}), add=[entry("b")])
    assert [e.msg_id for e in entries_of(new)] == ["a", "b"]
    assert orjson.loads(new or b"")["v"] == 2


def test_an_entry_staged_twice_is_kept_once() -> None:
    old = carry(None, orjson.dumps({"v": 1}), add=[entry("a")])
    assert [e.msg_id for e in entries_of(carry(old, orjson.dumps({"v": 2}), add=[entry("a")]))] == ["a"]


def test_keep_drops_entries_about_what_the_record_no_longer_holds() -> None:
    old = carry(None, orjson.dumps({"v": 1}), add=[entry("a", tag="r1"), entry("b", tag="r2")])
    new = carry(old, orjson.dumps({"v": 2}), keep=lambda e: e.tag != "r1")
    assert [e.msg_id for e in entries_of(new)] == ["b"]


def test_removing_sent_entries_leaves_the_others_and_then_no_field() -> None:
    value = carry(None, orjson.dumps({"v": 1}), add=[entry("a"), entry("b")])
    one_left = without(value, ["a"])
    assert [e.msg_id for e in entries_of(one_left)] == ["b"]
    none_left = without(one_left, ["b"])
    assert orjson.loads(none_left or b"") == {"v": 1}
    assert without(none_left, ["b"]) == none_left


def test_a_deleted_record_takes_its_entries_with_it() -> None:
    old = carry(None, orjson.dumps({"v": 1}), add=[entry("a")])
    assert carry(old, None) is None


def test_a_string_that_looks_like_the_field_is_not_an_outbox() -> None:
    value = orjson.dumps({"name": "_outbox"})
    assert entries_of(value) == []
    assert entries_of(carry(value, value, add=[entry("a")])) == [entry("a")]
    assert orjson.loads(carry(value, value, add=[entry("a")]) or b"")["name"] == "_outbox"


def test_only_entries_older_than_the_interval_are_due() -> None:
    entries = [entry("old", at=10.0), entry("fresh", at=11.5)]
    assert [e.msg_id for e in due(entries, now=12.0, after_seconds=2.0)] == ["old"]


def test_a_value_that_is_not_a_json_object_is_refused_by_name() -> None:
    with pytest.raises(OutboxError, match="JSON object"):
        carry(None, b"[1, 2]", add=[entry("a")])
    with pytest.raises(OutboxError, match="unreadable outbox entry"):
        entries_of(orjson.dumps({"_outbox": [["only", "three", "fields"]]}))


def test_an_event_entry_goes_to_its_subject_with_its_event_id() -> None:
    event = new_event(
        events_pb2.ContactOffered(queue="sales", agent_id="a1", reservation_id="r1"),
        tenant_id="t1",
        region="eu",
        source="routing-acd",
        contact_id="c1",
        event_id=stable_event_id("acd", "t1", "c1", "offered", "r1"),
    )
    staged = entry_of_event(event, "eu", at=5.0, tag="r1")
    assert staged.subject == "ccevt.eu.t1.contact_offered.c1"
    assert staged.msg_id == event.event_id
    assert events_pb2.Event.FromString(staged.data) == event
    with pytest.raises(OutboxError, match="event_id"):
        entry_of_event(events_pb2.Event(), "eu", at=5.0)


def test_sent_ids_remember_the_latest_only() -> None:
    sent = SentIds(size=2)
    for msg_id in ("a", "b", "a", "c"):
        sent.add(msg_id)
    assert "a" not in sent and "b" in sent and "c" in sent
