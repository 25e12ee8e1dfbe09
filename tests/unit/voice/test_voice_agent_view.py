"""What the agent's page is pushed of a call's transcript, and the lag event's shape."""

from __future__ import annotations

from ai.adapters.speech_events import behind_to_protobuf
from ai.domain.speech import FellBehind
from ccmesh.envelope import new_event
from contactcenter.events.v1 import events_pb2
from gateway.domain.socket_views import agent_view, customer_view, transcript_view


def segment_event(track: str = "caller", sequence: int = 2, **fields) -> events_pb2.Event:
    values = {
        "stream_id": "MZ1",
        "track": track,
        "start_seconds": 1.5,
        "end_seconds": 3.25,
        "text": "where is my order",
        "confidence": 0.8,
        "language": "en",
        "transcribed": True,
        "sequence": sequence,
        **fields,
    }
    return new_event(
        events_pb2.TranscriptSegment(**values),
        tenant_id="acme",
        region="eu",
        source="ai",
        contact_id="c1",
    )


def test_a_segment_is_a_transcript_line_for_the_agent_and_nothing_for_the_customer() -> None:
    event = segment_event()
    view = agent_view(event)
    assert view == transcript_view(event)
    assert view is not None
    assert {k: view[k] for k in ("type", "contactId", "segmentId", "track", "text", "transcribed")} == {
        "type": "transcript",
        "contactId": "c1",
        "segmentId": "MZ1:caller:2",
        "track": "caller",
        "text": "where is my order",
        "transcribed": True,
    }
    assert (view["startSeconds"], view["endSeconds"], view["language"]) == (1.5, 3.25, "en")
    # The customer's widget never shows a call's transcript.
    assert customer_view(event) is None


def test_an_utterance_not_transcribed_says_why() -> None:
    view = transcript_view(
        segment_event("agent", 1, text="", transcribed=False, reason="no transcription for language 'fr'")
    )
    assert view is not None
    assert (view["track"], view["transcribed"], view["reason"]) == (
        "agent",
        False,
        "no transcription for language 'fr'",
    )


def test_other_events_are_not_transcript_lines() -> None:
    closed = new_event(
        events_pb2.ContactClosed(outcome="resolved"), tenant_id="acme", region="eu", source="x"
    )
    assert transcript_view(closed) is None


def test_falling_behind_is_an_event_of_its_track_told_once() -> None:
    lag = FellBehind("acme", "brand", "c1", "MZ1", "caller", 4)
    event = behind_to_protobuf(lag, "eu", workers=2)
    assert event.WhichOneof("payload") == "transcription_behind"
    behind = event.transcription_behind
    assert (behind.stream_id, behind.track, behind.waiting, behind.workers) == ("MZ1", "caller", 4, 2)
    assert (event.contact_id, event.tenant.tenant_id) == ("c1", "acme")
    assert event.event_id == behind_to_protobuf(lag, "eu", workers=2).event_id
