"""The voice bridge's pure rules: the TwiML that dials the agent, a call's life, Twilio's answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.domain.voice_call import (
    CALL_STATUSES,
    ENDED_STATUSES,
    CallEnded,
    VoiceCall,
    call_has_ended,
    dial_agent_twiml,
)


def test_the_redirect_dials_the_agents_client() -> None:
    twiml = dial_agent_twiml("alice")
    assert twiml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert twiml.endswith("<Response><Dial><Client>alice</Client></Dial></Response>")


def test_an_agent_with_a_phone_number_is_dialled_there() -> None:
    root = ET.fromstring(dial_agent_twiml("alice", phone="+447700900123"))
    assert [(child.tag, [(c.tag, c.text) for c in child]) for child in root] == [
        ("Dial", [("Number", "+447700900123")])
    ]


def test_an_agent_id_cannot_inject_markup() -> None:
    root = ET.fromstring(dial_agent_twiml("a</Client><Hangup/><Client>b"))
    dial = root.find("Dial")
    assert dial is not None and [c.tag for c in dial] == ["Client"]
    assert dial[0].text == "a</Client><Hangup/><Client>b"
    assert root.find("Hangup") is None


@pytest.mark.parametrize(
    ("status", "code", "ended"),
    [
        (404, 20404, True),
        (400, 21220, True),
        (400, "21220", True),
        (400, 21211, False),
        (401, 20003, False),
        (503, 20500, False),
        (429, None, False),
    ],
)
def test_twilio_says_which_calls_have_ended(status: int, code: object, ended: bool) -> None:
    assert call_has_ended(status, code) is ended


def test_an_ended_call_is_a_permanent_failure() -> None:
    failure = CallEnded("HTTP 404: gone")
    assert not failure.transient and failure.reason == "HTTP 404: gone"


def test_a_queued_call_waits_for_an_agent_until_accepted_or_ended() -> None:
    call = VoiceCall(call_sid="CA1", contact_id="c1", endpoint="hotline")
    assert not call.waiting_for_agent
    queued = call.answered(queued=True)
    assert queued.waiting_for_agent
    # Twilio's retry of the first webhook (no hand-off in it) leaves the caller queued.
    assert queued.answered(queued=False).queued
    assert not queued.accepted("alice").waiting_for_agent
    assert queued.accepted("alice").accepted("bob").accepted_by == "alice"
    assert not queued.reported("completed").waiting_for_agent


def test_an_ended_call_stays_ended_whatever_arrives_later() -> None:
    ended = VoiceCall(call_sid="CA1", contact_id="c1", endpoint="hotline").reported("no-answer")
    assert ended.ended
    assert ended.reported("in-progress").status == "no-answer"
    assert ended.reported("ringing") is ended


def test_every_documented_status_is_known_and_only_final_ones_end_a_call() -> None:
    assert ENDED_STATUSES < CALL_STATUSES
    assert {s for s in CALL_STATUSES if VoiceCall("CA1", "c1", "e").reported(s).ended} == ENDED_STATUSES


def test_a_call_record_survives_a_round_trip() -> None:
    call = VoiceCall("CA1", "c1", "hotline", queued=True, accepted_by="alice", status="in-progress")
    assert VoiceCall.from_json(call.to_json()) == call
    assert VoiceCall.from_json(b'{"call_sid": "CA2", "contact_id": "c2"}') == VoiceCall("CA2", "c2", "")
