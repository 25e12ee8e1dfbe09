"""Call recordings: the voice TwiML starts a dual-channel recording on an endpoint that records
calls; Twilio's signed status callback has the gateway fetch the audio from the provider (a test
server playing Twilio's recordings API, basic auth), keep it in the region's recordings object
store and announce `RecordingStored`; the ai service transcribes it after the call (no live
stream ran), both channels, as `TranscriptSegment`s.

Real nats-server, gateway (HTTP), identity, routing and ai (its recogniser on a thread). Bad
callbacks are refused with the field named; a provider that fails is answered 503 (Twilio
retries); a retried callback keeps one recording.
"""

from __future__ import annotations

import asyncio
import io
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import numpy as np
import pytest
from _gateway_http import TWILIO, HttpGateway, apply_endpoints, channel_endpoint, http_gateway, stream_events
from _platform import REGION, SECRET, Platform, eventually
from aiohttp import BasicAuth, web
from nats.aio.msg import Msg

from ai.adapters.tenant_store import TenantStore
from ai.domain.speech_audio import ulaw_to_pcm16
from ai.service_layer.transcription_vocabulary import MAX_PHRASE_CHARACTERS, PHRASES, StoredVocabulary
from bench.voice.synthesis import espeak_available, silence, telephone_speech
from ccctl.main import main
from ccmesh import naming
from ccmesh.naming import recordings_bucket
from ccmesh.natsserver import free_port
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from contactcenter.events.v1 import events_pb2

pytestmark = [
    pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (run `make espeak`)"),
    pytest.mark.timeout(240),
]
ENDPOINT = "recorded-line"
RECORDING = "RE" + "0123456789abcdef" * 2
CALLER_SAYS = "where is my order"
AGENT_SAYS = "i will check where your order is"


def dual_channel_wav() -> bytes:
    """What Twilio keeps of a dual-channel call: 16-bit PCM, 8 kHz, the caller first."""
    caller = ulaw_to_pcm16(silence(0.3) + telephone_speech(CALLER_SAYS) + silence(0.8))
    agent = ulaw_to_pcm16(silence(0.3) + telephone_speech(AGENT_SAYS) + silence(0.8))
    frames = max(len(caller), len(agent))
    both = np.zeros((frames, 2), dtype="<i2")
    both[: len(caller), 0] = caller
    both[: len(agent), 1] = agent
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(both.tobytes())
    return out.getvalue()


class Provider:
    """Twilio's recordings API for one account: the media of the recordings it holds."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.fetched: list[str] = []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, sid: str) -> str:
        return f"{self.base}/2010-04-01/Accounts/{TWILIO['accountSid']}/Recordings/{sid}"

    async def media(self, request: web.Request) -> web.Response:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        if (auth.login, auth.password) != (TWILIO["accountSid"], TWILIO["authToken"]):
            return web.Response(status=401)
        self.fetched.append(request.match_info["name"])
        status, body = self.files.get(request.match_info["name"], (404, b""))
        return web.Response(status=status, body=body, content_type="audio/x-wav")


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    found = Provider()
    app = web.Application()
    app.router.add_get("/2010-04-01/Accounts/{account}/Recordings/{name}", found.media)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", found.port).start()
    yield found
    await runner.cleanup()


@pytest.fixture
async def gateway(platform: Platform, provider: Provider) -> AsyncIterator[HttpGateway]:
    await apply_endpoints(
        platform,
        channel_endpoint(
            ENDPOINT,
            channel="voice",
            provider="twilio",
            address="+442071838798",
            queue="support",
            twilio=TWILIO,
            provider_api_url=provider.base,
            record_calls=True,
            language="en-GB",
        ),
    )
    async with http_gateway(platform, voice_media_streams=False) as running:
        yield running


def completed(sid: str, url: str, **fields: str) -> dict[str, str]:
    return {
        "AccountSid": TWILIO["accountSid"],
        "CallSid": "CA" + "9" * 32,
        "RecordingSid": sid,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "4",
        "RecordingChannels": "2",
        "RecordingSource": "StartCallRecordingTwiML",
        **fields,
    }


async def events_of(platform: Platform, kind: str) -> list[Any]:
    return [e for e in await stream_events(platform) if e.WhichOneof("payload") == kind]


async def ccctl(*args: str) -> int:
    # ccctl runs its own event loop: give it a thread, as a separate process would have.
    return await asyncio.to_thread(main, list(args))


async def phrase_list_set_through_ccctl(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ccctl ai speech-phrases`: the tenant's phrase list is kept in the region (where a call's
    vocabulary is read from), a bad list is refused naming the phrase, only admins may set it."""
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    url = platform.nats_url
    phrases = tmp_path / "phrases.yaml"
    phrases.write_text(
        "phrases:\n  - where is my order\n  - 'where   is my order'\n  - talk to a manager\n  - ''\n"
    )
    assert (
        await ccctl("ai", "speech-phrases", "acme", str(phrases), "--nats-url", url, "--region", REGION) == 0
    )
    assert "speech phrases of acme: 2 kept" in capsys.readouterr().out

    store = await TenantStore.open(platform.nc.jetstream(), REGION, [])
    assert await StoredVocabulary(store).sentences("acme") == ["where is my order", "talk to a manager"]

    # Not a list of texts: refused here, before anything is sent.
    phrases.write_text("phrases: {a: b}\n")
    assert (
        await ccctl("ai", "speech-phrases", "acme", str(phrases), "--nats-url", url, "--region", REGION) == 2
    )
    assert "`phrases` must be a list of texts" in capsys.readouterr().err

    admin = platform.stub(AiServiceStub, tenant="acme", role="admin")
    with pytest.raises(RpcError) as refused:
        await admin.SetSpeechPhrases(
            ai_pb2.SetSpeechPhrasesRequest(
                tenant_id="acme", phrases=["fine", "x" * (MAX_PHRASE_CHARACTERS + 1)]
            )
        )
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT and "phrases[1]" in refused.value.message
    agent = platform.stub(AiServiceStub, tenant="acme", role="agent")
    with pytest.raises(RpcError) as denied:
        await agent.SetSpeechPhrases(ai_pb2.SetSpeechPhrasesRequest(tenant_id="acme", phrases=["mine"]))
    assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
    # Nothing refused replaced the list.
    assert (await store.get_artifact(PHRASES, "acme") or ({},))[0] == {
        "phrases": ["where is my order", "talk to a manager"]
    }


async def test_a_recorded_call_is_kept_announced_and_transcribed_after_the_call(
    platform: Platform,
    gateway: HttpGateway,
    provider: Provider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await platform.start("identity", "routing", "ai", settings={"ai": {"speech_workers": 0}})
    await phrase_list_set_through_ccctl(platform, tmp_path, monkeypatch, capsys)
    call = {
        "CallSid": "CA" + "9" * 32,
        "AccountSid": TWILIO["accountSid"],
        "From": "+447700900125",
        "To": "+442071838798",
        "Direction": "inbound",
        "CallStatus": "ringing",
    }
    async with await gateway.twilio(f"/v1/twilio/{ENDPOINT}/voice", call) as response:
        assert response.status == 200
        twiml = ET.fromstring((await response.text()).split("?>", 1)[1])
    recording = twiml.find("Start/Recording")
    assert recording is not None and twiml.find("Start/Stream") is None
    assert (recording.get("channels"), recording.get("recordingStatusCallbackEvent")) == ("dual", "completed")
    status_url = urlsplit(recording.get("recordingStatusCallback", ""))
    assert status_url.path == f"/v1/twilio/{ENDPOINT}/recording" and "transcribe=1" in status_url.query
    callback = f"{status_url.path}?{status_url.query}"
    contact = dict(p.split("=") for p in status_url.query.split("&"))["contact"]

    audio = dual_channel_wav()
    provider.files[f"{RECORDING}.wav"] = (200, audio)
    # Segments followed live (core NATS), so waiting for them asks the server nothing.
    segments_seen: list[Any] = []

    async def seen(msg: Msg) -> None:
        event = events_pb2.Event.FromString(msg.data)
        if event.transcript_segment.stream_id == RECORDING:
            segments_seen.append(event.transcript_segment)

    await platform.nc.subscribe(naming.event_subject(REGION, "*", "transcript_segment", "*"), cb=seen)
    async with await gateway.twilio(callback, completed(RECORDING, provider.url(RECORDING))) as response:
        assert response.status == 200, await response.text()
    # Twilio retries a callback it is not sure was taken: still one recording.
    async with await gateway.twilio(callback, completed(RECORDING, provider.url(RECORDING))) as response:
        assert response.status == 200

    store = await platform.nc.jetstream().object_store(recordings_bucket(REGION))
    kept = await store.get(f"acme/{contact}/{RECORDING}.wav")
    assert kept.data == audio

    async def transcribed() -> Any:
        return segments_seen if {s.track for s in segments_seen} == {"caller", "agent"} else None

    segments = await eventually(transcribed, seconds=90)
    caller = [s.text for s in segments if s.track == "caller"]
    assert any("order" in text for text in caller), caller
    assert all(s.language == "en" and s.transcribed for s in segments)

    # Announced once, whatever the callback's retries.
    (stored,) = [e for e in await events_of(platform, "recording_stored") if e.contact_id == contact]
    assert (stored.recording_stored.recording_sid, stored.recording_stored.channels) == (RECORDING, 2)
    assert stored.recording_stored.transcribing and stored.recording_stored.language == "en"
    assert stored.recording_stored.object == f"acme/{contact}/{RECORDING}.wav"


#: Callbacks that are wrong, and the field each is refused by name for.
WRONG = [
    ({"RecordingUrl": "http://example.org/evil.wav"}, "contact=c1&transcribe=1", "RecordingUrl"),
    ({"RecordingStatus": "exploded"}, "contact=c1&transcribe=1", "RecordingStatus"),
    ({"RecordingSid": "nope"}, "contact=c1&transcribe=1", "RecordingSid"),
    ({"RecordingChannels": "5"}, "contact=c1&transcribe=1", "RecordingChannels"),
    ({}, "transcribe=1", "contact"),
]


async def test_wrong_callbacks_are_refused_naming_their_field_and_fetch_nothing(
    gateway: HttpGateway, provider: Provider
) -> None:
    for fields, query, problem in WRONG:
        params = completed(RECORDING, provider.url(RECORDING), **fields)
        async with await gateway.twilio(f"/v1/twilio/{ENDPOINT}/recording?{query}", params) as response:
            assert response.status == 400, problem
            assert problem in (await response.json())["error"]["message"]
    assert provider.fetched == []


async def test_unsigned_callbacks_and_unusable_provider_answers_keep_nothing(
    platform: Platform, gateway: HttpGateway, provider: Provider
) -> None:
    callback = f"/v1/twilio/{ENDPOINT}/recording?contact=c2&transcribe=1"
    params = completed("RE" + "1" * 32, provider.url("RE" + "1" * 32))
    async with await gateway.twilio(callback, params, signature=None) as response:
        assert response.status == 401
    # The provider has no such recording (yet): 503, so Twilio calls back again later.
    async with await gateway.twilio(callback, params) as response:
        assert response.status == 503
    # What the provider hands over is no recording: refused for good, with the reason.
    provider.files[f"{'RE' + '1' * 32}.wav"] = (200, b"not a wav file at all")
    async with await gateway.twilio(callback, params) as response:
        assert response.status == 422
        assert "WAV" in (await response.json())["error"]["message"]
    # An in-progress status is acknowledged and nothing is fetched.
    async with await gateway.twilio(callback, {**params, "RecordingStatus": "in-progress"}) as response:
        assert response.status == 200
    assert provider.fetched == [f"{'RE' + '1' * 32}.wav"] * 2
    assert [e for e in await events_of(platform, "recording_stored") if e.contact_id == "c2"] == []
