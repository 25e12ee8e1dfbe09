"""A call through the real gateway and ai service: `TranscriptSegment` events on the region's
stream for both tracks, in order, and the caller's words analysed as a voice message.

identity, routing and ai run as the platform runs them (the ai's recogniser on a thread:
`speech_workers=0`); Twilio's side is a test client: the voice webhook, then the Media Stream
its TwiML starts, with espeak-ng speech at real-time pace.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
from _gateway_http import TWILIO, apply_endpoints, channel_endpoint, http_gateway, stream_events
from _platform import Platform, eventually
from test_voice_media_stream import ENDPOINT, speak, start_message

from bench.voice.synthesis import espeak_available, silence, telephone_speech
from contactcenter.common.v1 import common_pb2

pytestmark = [
    pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (run `make espeak`)"),
    pytest.mark.timeout(240),
]


async def test_transcript_events_for_both_tracks_and_insights_from_the_caller(platform: Platform) -> None:
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
    await platform.start("identity", "routing", "ai", settings={"ai": {"speech_workers": 0}})
    async with http_gateway(platform, voice_media_streams=True) as gateway:
        call = {
            "CallSid": "CA8",
            "AccountSid": TWILIO["accountSid"],
            "From": "+447700900124",
            "To": "+442071838799",
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        async with await gateway.twilio(f"/v1/twilio/{ENDPOINT}/voice", call) as response:
            twiml = await response.text()
        stream = ET.fromstring(twiml.split("?>", 1)[1]).find("Start/Stream")
        assert stream is not None
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        contact = parameters["contact"]
        socket = await gateway.session.ws_connect(stream.get("url", ""))
        await socket.send_str(start_message(contact, "CA8", token=parameters["token"]).decode())
        caller = (
            silence(0.3)
            + telephone_speech("i am very unhappy with the service")
            + silence(0.8)
            + telephone_speech("i want to talk to a manager")
            + silence(0.8)
        )
        agent = silence(0.3) + telephone_speech("thank you for your help") + silence(0.6)
        await speak(socket, caller, agent)
        await socket.send_str(orjson.dumps({"event": "stop"}).decode())
        await socket.close()

        async def segments() -> Any:
            found = [
                e
                for e in await stream_events(platform)
                if e.WhichOneof("payload") == "transcript_segment" and e.contact_id == contact
            ]
            tracks = [e.transcript_segment.track for e in found]
            return found if tracks.count("caller") >= 2 and "agent" in tracks else None

        found = await eventually(segments, seconds=90)
        caller_segments = [e.transcript_segment for e in found if e.transcript_segment.track == "caller"]
        assert [s.sequence for s in caller_segments] == [1, 2]
        assert caller_segments[0].end_seconds <= caller_segments[1].start_seconds
        assert "manager" in caller_segments[1].text and caller_segments[0].language == "en"
        assert all(e.source == "ai" and e.tenant.tenant_id == "acme" for e in found)

        async def insights() -> Any:
            # Insights of the call's spoken words (the webhook's own message has one too).
            found = {
                e.ai_insight.message_id: e.ai_insight
                for e in await stream_events(platform)
                if e.WhichOneof("payload") == "ai_insight" and e.ai_insight.message_id.startswith("MZ8:")
            }
            return found if len(found) >= 2 else None

        analysed = await eventually(insights, seconds=60)
        assert set(analysed) == {"MZ8:caller:1", "MZ8:caller:2"}  # the agent's words are not the customer's
        assert {i.channel for i in analysed.values()} == {common_pb2.CHANNEL_KIND_VOICE}
        # Analysed by the tenant's pipeline as a chat message is: language, sentiment, intent, PII.
        assert {(i.language, i.pipeline) for i in analysed.values()} == {("en", "default")}
