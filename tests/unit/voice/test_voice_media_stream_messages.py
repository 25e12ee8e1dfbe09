"""Twilio Media Stream messages read and checked, the stream token, and the TwiML that starts
the stream."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import orjson
import pytest

from ai.adapters.speech_events import to_protobuf
from ai.domain.speech import Transcript, TranscriptSegmentFound
from gateway.domain.media_stream import (
    MAX_MESSAGE_BYTES,
    Media,
    MediaStreamError,
    Start,
    Stop,
    parse,
    stream_token,
    valid_stream_token,
)
from gateway.domain.twiml import MediaStream, VoiceUrls, render_voice

START = {
    "event": "start",
    "start": {
        "streamSid": "MZ1",
        "accountSid": "AC1",
        "callSid": "CA1",
        "tracks": ["inbound", "outbound"],
        "customParameters": {"contact": "c-1", "token": "t"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


def media_json(chunk: str, track: str = "inbound", payload: str = "AA==") -> str:
    body = {"track": track, "chunk": chunk, "timestamp": "0", "payload": payload}
    return orjson.dumps({"event": "media", "media": body}).decode()


def test_twilio_messages_read_as_documented() -> None:
    start = parse(orjson.dumps(START))
    assert start == Start("MZ1", "CA1", frozenset({"inbound", "outbound"}), {"contact": "c-1", "token": "t"})
    media = parse(
        orjson.dumps(
            {
                "event": "media",
                "media": {"track": "inbound", "chunk": "2", "timestamp": "40", "payload": "//8="},
            }
        )
    )
    assert media == Media("inbound", 2, 40, b"\xff\xff")
    assert parse('{"event": "stop", "stop": {}}') == Stop()


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("[1]", "not a JSON object"),
        (
            media_json("1", payload=""),
            "media.payload",
        ),
        (
            media_json("1", track="both"),
            "unknown track",
        ),
        (
            media_json("-1"),
            "media.chunk",
        ),
        (orjson.dumps({**START, "start": {**START["start"], "tracks": ["video"]}}).decode(), "start.tracks"),
        (orjson.dumps({**START, "start": {**START["start"], "callSid": ""}}).decode(), "start.callSid"),
        ('{"event": "mark", "mark": {}}', "mark.name"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "over the"),
    ],
)
def test_malformed_messages_are_named(message: str, problem: str) -> None:
    with pytest.raises(MediaStreamError, match=problem):
        parse(message)


def test_oversized_media_payload_is_refused() -> None:
    payload = base64.b64encode(b"\xff" * 4000).decode()
    with pytest.raises(MediaStreamError, match=r"media\.payload"):
        parse(
            orjson.dumps(
                {
                    "event": "media",
                    "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload},
                }
            )
        )


def test_the_stream_token_binds_endpoint_contact_and_call() -> None:
    token = stream_token("secret", "line", "c-1", "CA1")
    assert valid_stream_token("secret", "line", "c-1", "CA1", token)
    for other in (
        ("other", "line", "c-1", "CA1"),
        ("secret", "line2", "c-1", "CA1"),
        ("secret", "line", "c-2", "CA1"),
        ("secret", "line", "c-1", "CA2"),
    ):
        assert not valid_stream_token(*other, token)
    assert not valid_stream_token("secret", "line", "c-1", "CA1", "")


def test_the_voice_twiml_starts_a_stream_of_both_tracks_before_the_journey() -> None:
    stream = MediaStream("wss://cc.example/v1/twilio/line/media", {"contact": "c-1", "token": "t&<"})
    xml = render_voice([], urls=VoiceUrls(gather="g", wait="w"), stream=stream)
    response = ET.fromstring(xml.split("?>", 1)[1])
    start = response[0]
    assert start.tag == "Start"
    element = start.find("Stream")
    assert element is not None
    assert element.get("url") == stream.url and element.get("track") == "both_tracks"
    assert {p.get("name"): p.get("value") for p in element.findall("Parameter")} == {
        "contact": "c-1",
        "token": "t&<",
    }
    assert "Start" not in render_voice([], urls=VoiceUrls(gather="g", wait="w"))


def test_a_segment_event_carries_the_transcript_redacted() -> None:
    segment = TranscriptSegmentFound(
        "acme",
        "brand",
        "c-1",
        "MZ1",
        "caller",
        1.5,
        3.0,
        Transcript("my card is four one", 0.7, "en"),
        2,
    )
    event = to_protobuf(segment, "eu", redact=lambda text: text.replace("four one", "[CARD]"))
    assert event.WhichOneof("payload") == "transcript_segment"
    payload = event.transcript_segment
    assert (payload.text, payload.track, payload.sequence, payload.stream_id) == (
        "my card is [CARD]",
        "caller",
        2,
        "MZ1",
    )
    assert (payload.start_seconds, payload.end_seconds, payload.transcribed) == (1.5, 3.0, True)
    assert event.contact_id == "c-1" and event.region == "eu" and event.source == "ai"
    assert event.event_id == "ai-transcript-MZ1:caller:2"
