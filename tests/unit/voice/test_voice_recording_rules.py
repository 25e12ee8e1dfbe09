"""Recordings without I/O: the TwiML that starts one, the status callback read and checked, the
audio accepted, the keep use case and the post-call transcription with fakes."""

from __future__ import annotations

import asyncio
import io
import wave
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ai.domain.speech import Transcript, TranscriptSegmentFound
from ai.domain.speech_audio import RecordingAudioError as AiRecordingAudioError
from ai.domain.speech_audio import recording_tracks
from ai.domain.speech_segmenter import Segmenter
from ai.service_layer.transcription import CallTranscription
from ai.service_layer.transcription_recordings import StoredRecording, TranscribeRecording
from ccmesh.configplane.models import ChannelEndpoint
from gateway.domain.recording_audio import RecordingAudioError, recording_format
from gateway.domain.recording_callback import (
    RecordingCallbackError,
    RecordingKept,
    media_host_allowed,
    parse_completed,
)
from gateway.domain.twiml import CallRecording, VoiceUrls, render_voice
from gateway.service_layer.recordings import KeepRecording, RecordingEndpoint

API = "https://api.twilio.com"
URL = f"{API}/2010-04-01/Accounts/AC1/Recordings/RE0123456789"


def wav(
    channels: int = 2, rate: int = 8000, width: int = 2, seconds: float = 1.0, loud: bool = False
) -> bytes:
    frames = int(rate * seconds)
    samples = np.zeros((frames, channels), dtype="<i2")
    if loud:
        samples[: frames // 2, 0] = 3000
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(width)
        audio.setframerate(rate)
        audio.writeframes(samples.tobytes() if width == 2 else bytes(frames * channels))
    return out.getvalue()


def fields(**changed: str) -> dict[str, str]:
    return {
        "CallSid": "CA0123456789",
        "RecordingSid": "RE0123456789",
        "RecordingUrl": URL,
        "RecordingStatus": "completed",
        "RecordingDuration": "12",
        "RecordingChannels": "2",
        **changed,
    }


def test_the_voice_twiml_records_both_sides_before_anything_else() -> None:
    urls = VoiceUrls(gather="https://gw/gather", wait="https://gw/wait")
    twiml = render_voice(
        [], urls=urls, recording=CallRecording("https://gw/v1/twilio/line/recording?contact=c1")
    )
    start = ET.fromstring(twiml.split("?>", 1)[1])[0]
    (recording,) = start
    assert (start.tag, recording.tag) == ("Start", "Recording")
    assert recording.attrib == {
        "channels": "dual",
        "track": "both",
        "recordingStatusCallback": "https://gw/v1/twilio/line/recording?contact=c1",
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "completed",
    }
    assert "<Recording" not in render_voice([], urls=urls)


def test_a_completed_callback_reads_as_the_recording_to_fetch() -> None:
    found = parse_completed(fields(), {"contact": "c-1", "transcribe": "1"}, "")
    assert found is not None
    assert (found.recording_sid, found.call_sid, found.contact_id) == ("RE0123456789", "CA0123456789", "c-1")
    assert (found.media_url, found.duration_seconds, found.channels, found.transcribe_after) == (
        f"{URL}.wav",
        12.0,
        2,
        True,
    )
    untranscribed = parse_completed(fields(), {"contact": "c-1", "transcribe": "0"}, "")
    assert untranscribed is not None and not untranscribed.transcribe_after
    # Other statuses are acknowledged: nothing to keep.
    assert parse_completed(fields(RecordingStatus="absent"), {"contact": "c-1"}, "") is None


@pytest.mark.parametrize(
    ("changed", "query", "problem"),
    [
        ({"RecordingUrl": "https://evil.example/x.wav"}, {"contact": "c1"}, "RecordingUrl"),
        ({"RecordingUrl": "http://api.twilio.com/x"}, {"contact": "c1"}, "RecordingUrl"),
        ({"RecordingStatus": "weird"}, {"contact": "c1"}, "RecordingStatus"),
        ({"RecordingSid": "re-lower"}, {"contact": "c1"}, "RecordingSid"),
        ({"CallSid": ""}, {"contact": "c1"}, "CallSid"),
        ({"RecordingDuration": "-3"}, {"contact": "c1"}, "RecordingDuration"),
        ({"RecordingChannels": "3"}, {"contact": "c1"}, "RecordingChannels"),
        ({}, {"contact": "c1/../x"}, "contact"),
        ({}, {}, "contact"),
    ],
)
def test_a_wrong_callback_field_is_named(
    changed: dict[str, str], query: dict[str, str], problem: str
) -> None:
    with pytest.raises(RecordingCallbackError, match=problem):
        parse_completed(fields(**changed), query, "")


def test_the_media_must_be_on_the_endpoints_provider_api() -> None:
    assert media_host_allowed("http://127.0.0.1:9000/rec", "http://127.0.0.1:9000")
    assert not media_host_allowed("http://127.0.0.1:9001/rec", "http://127.0.0.1:9000")
    assert not media_host_allowed("file:///etc/passwd", "")


def test_only_pcm_wav_of_one_or_two_channels_is_a_recording() -> None:
    assert recording_format(wav()).channels == 2
    assert recording_format(wav(channels=1, rate=16000, seconds=2)).seconds == 2.0
    for data, problem in ((b"RIFFjunk", "not a WAV"), (wav(width=1), "16-bit"), (wav(rate=4000), "8 kHz")):
        with pytest.raises(RecordingAudioError, match=problem):
            recording_format(data)


def test_a_recording_is_split_into_its_sides_at_the_telephone_rate() -> None:
    caller, agent = recording_tracks(wav(rate=16000, loud=True))
    assert len(caller) == len(agent) == 8000
    assert np.abs(caller[:3000]).mean() > 1000 and np.abs(agent).max() == 0
    with pytest.raises(AiRecordingAudioError, match="16-bit"):
        recording_tracks(wav(width=1))


def test_a_voice_endpoint_alone_may_record_calls() -> None:
    spec = {
        "region": "eu",
        "tenant": "acme",
        "provider": "twilio",
        "queue": "support",
        "recordCalls": True,
        "twilio": {"accountSid": "AC" + "0" * 32, "authToken": "t" * 32},
    }
    base = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ChannelEndpoint",
        "metadata": {"name": "line"},
    }
    base["spec"] = spec
    voice = {**base, "spec": {**base["spec"], "channel": "voice", "address": "+442071838750"}}
    assert ChannelEndpoint.model_validate(voice).spec.record_calls
    sms = {**base, "spec": {**base["spec"], "channel": "sms", "address": "+442071838750"}}
    with pytest.raises(ValueError, match="recordCalls: only voice endpoints record calls"):
        ChannelEndpoint.model_validate(sms)


class Media:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.asked: list[tuple[str, str, str]] = []

    async def fetch(self, url: str, account_sid: str, auth_token: str) -> bytes:
        self.asked.append((url, account_sid, auth_token))
        return self.data


class Objects:
    bucket = "recordings-eu"

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    async def keep(self, name: str, data: bytes) -> None:
        self.kept[name] = data


class Announcer:
    def __init__(self) -> None:
        self.announced: list[RecordingKept] = []

    async def stored(self, kept: RecordingKept) -> None:
        self.announced.append(kept)


ENDPOINT = RecordingEndpoint("acme", "b1", "en", "AC1", "token")


async def test_a_completed_recording_is_fetched_kept_under_its_contact_and_announced() -> None:
    media, objects, announcer = Media(wav()), Objects(), Announcer()
    completed = parse_completed(fields(), {"contact": "c1", "transcribe": "1"}, "")
    assert completed is not None
    kept = await KeepRecording(media, objects, announcer)(ENDPOINT, completed)
    assert media.asked == [(f"{URL}.wav", "AC1", "token")]
    assert objects.kept == {"acme/c1/RE0123456789.wav": wav()}
    assert announcer.announced == [kept]
    assert (kept.bucket, kept.channels, kept.duration_seconds, kept.transcribing) == (
        "recordings-eu",
        2,
        1.0,
        True,
    )


async def test_a_file_that_is_no_recording_is_neither_kept_nor_announced() -> None:
    media, objects, announcer = Media(b"<html>login</html>"), Objects(), Announcer()
    completed = parse_completed(fields(), {"contact": "c1"}, "")
    assert completed is not None
    with pytest.raises(RecordingAudioError):
        await KeepRecording(media, objects, announcer)(ENDPOINT, completed)
    assert objects.kept == {} and announcer.announced == []


class Recogniser:
    def set_vocabulary(self, tenant_id: str, sentences: object) -> None:
        return None

    async def transcribe(self, tenant_id: str, language: str, samples: np.ndarray) -> Transcript:
        await asyncio.sleep(0)
        return Transcript(text="said", confidence=0.9, language=language)


class Sink:
    def __init__(self) -> None:
        self.segments: list[TranscriptSegmentFound] = []

    async def publish(self, segment: TranscriptSegmentFound) -> None:
        self.segments.append(segment)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, bucket: str, name: str) -> bytes:
        return self.data


async def test_a_recording_is_transcribed_after_the_call_side_by_side() -> None:
    sink = Sink()
    transcription = CallTranscription(
        Recogniser(), sink, lambda: Segmenter(lambda frame: bool(np.abs(frame.astype(np.int32)).mean() > 500))
    )
    recording = StoredRecording("acme", "b1", "c1", "RE1", "recordings-eu", "acme/c1/RE1.wav", "en")
    # Returns once every segment is announced (the consumer acks after it).
    await TranscribeRecording(Reader(wav(rate=8000, loud=True)), transcription)(recording)
    assert [(s.stream_id, s.track, s.sequence, s.transcript.text) for s in sink.segments] == [
        ("RE1", "caller", 1, "said")
    ]
    assert transcription.open_tracks == 0 and transcription.behind == set()
    with pytest.raises(AiRecordingAudioError):
        await TranscribeRecording(Reader(b"junk"), transcription)(recording)
