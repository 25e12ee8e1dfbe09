"""A call's audio through the gateway's Twilio Media Stream socket to live transcripts.

Real nats-server and gateway (HTTP on a free port); the ai side's transcription runs in the
test's process on the same NATS (the real recogniser on a thread, the real segmenter), its
segments collected. A test client speaks Twilio's Media Stream messages with espeak-ng speech
as 8 kHz μ-law, 20 ms frames at real-time pace. Bad input closes its socket with a reason,
nothing crashes, and the other calls go on.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import jiwer
import orjson
import pytest
from _gateway_http import AUTH_TOKEN, TWILIO, HttpGateway, apply_endpoints, channel_endpoint, http_gateway
from _platform import REGION, Platform, eventually

from ai.adapters.speech_pool import SpeechPool
from ai.adapters.speech_vad import voice_activity
from ai.domain.speech import TranscriptSegmentFound
from ai.domain.speech_segmenter import Segmenter
from ai.entrypoints.call_audio import subscribe_call_audio
from ai.service_layer.transcription import CallTranscription
from bench.voice.synthesis import espeak_available, silence, telephone_speech
from bench.voice.utterances import TENANT_VOCABULARY
from gateway.domain.media_stream import stream_token

pytestmark = [
    pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (run `make espeak`)"),
    pytest.mark.timeout(240),
]
ENDPOINT = "line"
FRAME = 160


class Segments:
    def __init__(self) -> None:
        self.found: list[TranscriptSegmentFound] = []

    async def publish(self, segment: TranscriptSegmentFound) -> None:
        self.found.append(segment)

    def of(self, contact: str, track: str) -> list[TranscriptSegmentFound]:
        return [s for s in self.found if s.contact_id == contact and s.track == track]


@pytest.fixture(scope="module")
def speech() -> Iterator[SpeechPool]:
    """One recogniser for the module (it loads its models in seconds), on a thread."""
    pool = SpeechPool("speech", workers=0)
    pool.set_vocabulary("acme", TENANT_VOCABULARY)
    yield pool
    pool.close()


@pytest.fixture
async def call_setup(
    platform: Platform, speech: SpeechPool
) -> AsyncIterator[tuple[HttpGateway, Segments, CallTranscription]]:
    await apply_endpoints(
        platform,
        channel_endpoint(
            ENDPOINT,
            channel="voice",
            provider="twilio",
            address="+442071838799",
            queue="support",
            twilio=TWILIO,
        ),
    )
    segments = Segments()
    transcription = CallTranscription(speech, segments, lambda: Segmenter(voice_activity()))
    subscription = await subscribe_call_audio(platform.nc, REGION, transcription)
    try:
        async with http_gateway(platform, voice_media_streams=True) as gateway:
            yield gateway, segments, transcription
    finally:
        await subscription.unsubscribe()
        await transcription.stop()


def start_message(contact: str, call_sid: str, *, token: str | None = None, **media_format: Any) -> bytes:
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "streamSid": f"MZ{call_sid[2:]}",
                "accountSid": TWILIO["accountSid"],
                "callSid": call_sid,
                "tracks": ["inbound", "outbound"],
                "customParameters": {
                    "contact": contact,
                    "token": token or stream_token(AUTH_TOKEN, ENDPOINT, contact, call_sid),
                },
                "mediaFormat": {
                    "encoding": "audio/x-mulaw",
                    "sampleRate": 8000,
                    "channels": 1,
                    **media_format,
                },
            },
            "streamSid": f"MZ{call_sid[2:]}",
        }
    )


def media_message(track: str, chunk: int, payload: bytes) -> bytes:
    return orjson.dumps(
        {
            "event": "media",
            "media": {
                "track": track,
                "chunk": str(chunk),
                "timestamp": str(chunk * 20),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


async def open_socket(gateway: HttpGateway) -> aiohttp.ClientWebSocketResponse:
    url = gateway.url(f"/v1/twilio/{ENDPOINT}/media").replace("http://", "ws://")
    socket = await gateway.session.ws_connect(url)
    await socket.send_str(
        orjson.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}).decode()
    )
    return socket


async def speak(socket: aiohttp.ClientWebSocketResponse, caller: bytes, agent: bytes) -> None:
    """Both tracks, frame by frame, at the pace a call makes them (20 ms a frame)."""
    frames = max(len(caller), len(agent)) // FRAME + 1
    started = asyncio.get_running_loop().time()
    for index in range(frames):
        for track, audio in (("inbound", caller), ("outbound", agent)):
            piece = audio[index * FRAME : (index + 1) * FRAME]
            if piece:
                await socket.send_str(media_message(track, index + 1, piece).decode())
        pause = started + (index + 1) * 0.02 - asyncio.get_running_loop().time()
        if pause > 0:
            await asyncio.sleep(pause)


async def closed_with(socket: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    message = await socket.receive(timeout=20)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    return socket.close_code, str(message.extra or "")


async def test_a_call_streams_both_tracks_into_ordered_transcripts(call_setup) -> None:
    gateway, segments, _ = call_setup
    caller_said = ["where is my order", "i want to talk to a manager"]
    caller = silence(0.4) + telephone_speech(caller_said[0]) + silence(0.8) + telephone_speech(caller_said[1])
    agent = silence(0.4) + telephone_speech("thank you for your help") + silence(0.6)
    socket = await open_socket(gateway)
    await socket.send_str(start_message("contact-1", "CA1").decode())
    await speak(socket, caller + silence(0.8), agent)
    await socket.send_str(orjson.dumps({"event": "stop", "stop": {"callSid": "CA1"}}).decode())
    await socket.close()

    await eventually(lambda: _at_least(segments, "contact-1", "caller", 2), seconds=60)
    await eventually(lambda: _at_least(segments, "contact-1", "agent", 1), seconds=60)
    heard = segments.of("contact-1", "caller")
    assert [s.sequence for s in heard] == list(range(1, len(heard) + 1))
    assert all(a.end_seconds <= b.start_seconds for a, b in itertools.pairwise(heard))
    assert jiwer.wer(" ".join(caller_said), " ".join(s.transcript.text for s in heard)) <= 0.35
    assert heard[0].stream_id == "MZ1" and heard[0].tenant_id == "acme"
    assert segments.of("contact-1", "agent")[0].transcript.text


async def _at_least(segments: Segments, contact: str, track: str, count: int) -> bool:
    return len(segments.of(contact, track)) >= count


async def test_bad_input_closes_its_socket_with_a_reason_and_other_calls_go_on(call_setup) -> None:
    gateway, segments, _ = call_setup
    cases: list[tuple[list[str | bytes], str]] = [
        (["not json"], "not JSON"),
        ([media_message("inbound", 1, b"\xff" * FRAME).decode()], "media: before start"),
        ([start_message("contact-2", "CA2", token="0" * 64).decode()], "token: does not prove this call"),
        # A token of another call does not open this one.
        (
            [
                start_message(
                    "contact-2", "CA2", token=stream_token(AUTH_TOKEN, ENDPOINT, "contact-2", "CA9")
                ).decode()
            ],
            "does not prove this call",
        ),
        (
            [start_message("contact-2", "CA2", encoding="audio/l16", sampleRate=16000).decode()],
            "only audio/x-mulaw",
        ),
        (['{"event": "transcode"}'], "unknown event"),
        (
            [
                start_message("contact-2", "CA2").decode(),
                orjson.dumps(
                    {
                        "event": "media",
                        "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "***"},
                    }
                ).decode(),
            ],
            "not base64",
        ),
    ]
    # A good call runs all along the bad ones.
    good = await open_socket(gateway)
    await good.send_str(start_message("contact-3", "CA3").decode())
    good_call = asyncio.create_task(
        speak(good, silence(0.3) + telephone_speech("please block my card") + silence(0.8), b"")
    )
    for messages, reason in cases:
        socket = await open_socket(gateway)
        for message in messages:
            await socket.send_str(message if isinstance(message, str) else message.decode())
        code, text = await closed_with(socket)
        assert code == 1008 and reason in text, (reason, code, text)

    oversized = await open_socket(gateway)
    await oversized.send_str(start_message("contact-4", "CA4").decode())
    await oversized.send_str(media_message("inbound", 1, b"\xff" * 20_000).decode())
    code, _ = await closed_with(oversized)
    assert code == 1009  # message too big: refused before it is parsed

    # A socket that just stops mid-call: what it said is still transcribed.
    dropped = await open_socket(gateway)
    await dropped.send_str(start_message("contact-5", "CA5").decode())
    await speak(dropped, silence(0.3) + telephone_speech("where is my order"), b"")
    await dropped.close()

    await good_call
    await good.send_str(orjson.dumps({"event": "stop"}).decode())
    await good.close()
    await eventually(lambda: _at_least(segments, "contact-3", "caller", 1), seconds=60)
    await eventually(lambda: _at_least(segments, "contact-5", "caller", 1), seconds=60)
    assert "block my card" in " ".join(s.transcript.text for s in segments.of("contact-3", "caller"))
    assert not segments.of("contact-2", "caller") and not segments.of("contact-4", "caller")


async def test_the_voice_webhook_starts_a_signed_stream_that_the_socket_accepts(
    call_setup, platform: Platform
) -> None:
    gateway, segments, _ = call_setup
    await platform.start("identity", "routing")
    call = {
        "CallSid": "CA7",
        "AccountSid": TWILIO["accountSid"],
        "From": "+447700900123",
        "To": "+442071838799",
        "Direction": "inbound",
        "CallStatus": "ringing",
    }
    async with await gateway.twilio(f"/v1/twilio/{ENDPOINT}/voice", call) as response:
        assert response.status == 200
        twiml = await response.text()
    stream = ET.fromstring(twiml.split("?>", 1)[1]).find("Start/Stream")
    assert stream is not None and stream.get("track") == "both_tracks"
    url = stream.get("url", "")
    assert url == gateway.url(f"/v1/twilio/{ENDPOINT}/media").replace("http://", "ws://")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    contact = parameters["contact"]

    socket = await gateway.session.ws_connect(url)
    await socket.send_str(start_message(contact, "CA7", token=parameters["token"]).decode())
    await speak(
        socket, silence(0.3) + telephone_speech("i want to cancel my subscription") + silence(0.8), b""
    )
    await socket.send_str(orjson.dumps({"event": "stop"}).decode())
    await socket.close()
    await eventually(lambda: _at_least(segments, contact, "caller", 1), seconds=60)
    said = " ".join(s.transcript.text for s in segments.of(contact, "caller"))
    assert jiwer.wer("i want to cancel my subscription", said) <= 0.35
