"""The voice bridge's pure rules: the TwiML that dials the agent, a call's life, Twilio's answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.domain.twiml import QueueWait, VoiceUrls, render_enqueue, render_hold, render_voice
from gateway.domain.voice_call import (
    CALL_STATUSES,
    DEFAULT_GREETING,
    DEFAULT_TRANSFERRING,
    ENDED_STATUSES,
    CallEnded,
    VoiceCall,
    call_has_ended,
    dial_agent_twiml,
    queue_entry,
    transferring_prompt,
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


def test_a_queue_only_endpoint_greets_then_enqueues_with_the_wait_url() -> None:
    urls = VoiceUrls(gather="https://cc.example/g", wait="https://cc.example/v1/twilio/line/voice/wait")
    default = ET.fromstring(render_voice(queue_entry("support", {}, ""), urls=urls))
    assert [(child.tag, child.text) for child in default] == [
        ("Say", DEFAULT_GREETING),
        ("Enqueue", "support"),
    ]
    assert default[1].get("waitUrl") == urls.wait
    prompts = {"greeting": "Welcome to ACME.", "greeting.es": "Bienvenido a ACME."}
    spanish = ET.fromstring(
        render_voice(queue_entry("ventas", prompts, "es-ES"), urls=urls, language="es-ES")
    )
    assert [(child.tag, child.text) for child in spanish] == [
        ("Say", "Bienvenido a ACME."),
        ("Enqueue", "ventas"),
    ]
    assert spanish[0].get("language") == "es-ES"


def test_the_hold_message_tells_the_place_and_wait_then_loops_back() -> None:
    wait_url = "https://cc.example/v1/twilio/line/voice/wait"
    hold = ET.fromstring(
        render_hold(prompts={}, wait=QueueWait(position=3, average_wait_seconds=130), wait_url=wait_url)
    )
    assert [(child.tag, child.text) for child in hold] == [
        ("Say", "You are number 3 in the queue."),
        ("Say", "The estimated wait is about 3 minutes."),
        ("Say", "Please hold, an agent will be with you shortly."),
        ("Pause", None),
        ("Redirect", wait_url),
    ]
    # Reworded prompts (a recording plays); nothing said of numbers Twilio did not give.
    prompts = {"hold": "https://cdn.example/hold.mp3", "queue-position": "Position {position}, thanks."}
    quiet = ET.fromstring(render_hold(prompts=prompts, wait=QueueWait(position=1)))
    assert [(child.tag, child.text) for child in quiet] == [
        ("Say", "Position 1, thanks."),
        ("Play", "https://cdn.example/hold.mp3"),
        ("Pause", None),
    ]


def test_a_live_call_is_put_back_in_a_queue_with_its_wait_url() -> None:
    twiml = ET.fromstring(
        render_enqueue(queue="billing", prompt="One moment.", wait_url="https://cc.example/w")
    )
    assert [(child.tag, child.text, child.get("waitUrl")) for child in twiml] == [
        ("Say", "One moment.", None),
        ("Enqueue", "billing", "https://cc.example/w"),
    ]


def test_a_transferred_call_waits_again_with_the_wait_url_it_was_answered_with() -> None:
    call = VoiceCall("CA1", "c1", "hotline").answered(queued=True, wait_url="https://cc.example/w")
    # Twilio's retry of a step keeps the first wait URL; the record keeps it across a round trip.
    assert (
        call.answered(queued=False, wait_url="https://elsewhere.example/w").wait_url == "https://cc.example/w"
    )
    assert VoiceCall.from_json(call.to_json()) == call
    talking = call.accepted("dave")
    assert not talking.waiting_for_agent
    moved = talking.requeued()
    assert moved.waiting_for_agent and moved.accepted_by == "" and moved.wait_url == "https://cc.example/w"
    assert moved.accepted("erin").accepted_by == "erin"
    assert transferring_prompt({}, "") == DEFAULT_TRANSFERRING
    assert transferring_prompt({"transferring.de": "Einen Moment bitte."}, "de-DE") == "Einen Moment bitte."
