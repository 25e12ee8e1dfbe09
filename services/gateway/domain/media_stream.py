"""Twilio Media Streams, the messages a call's audio arrives in, read and checked.

Twilio opens a WebSocket to the `<Stream url>` of the call's TwiML and sends JSON text messages:
`connected`, then `start` (streamSid, callSid, tracks, customParameters, mediaFormat), then
`media` frames (track, chunk, timestamp in ms, base64 payload of 8 kHz μ-law), `mark`, `dtmf`,
and `stop`. Anything else, or a frame that breaks the format, is a `MediaStreamError` naming the
problem: the socket is closed with that reason.

The stream is bound to the call's contact by custom parameters the gateway put in the TwiML
(`contact`, `callSid`) and signed (`token`: HMAC-SHA256 with the endpoint's Twilio auth token
over the endpoint, contact and call): a socket that cannot show one cannot stream into a
contact, and a token for one call does not open another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
#: Twilio's two tracks: the caller (`inbound`) and what the call plays to them (`outbound`:
#: the agent, prompts).
TRACKS = frozenset({"inbound", "outbound"})
#: Twilio sends 20 ms (160 bytes); anything much larger is not a media frame.
MAX_PAYLOAD_BYTES = 1600
#: A JSON message larger than this is refused before it is parsed.
MAX_MESSAGE_BYTES = 8 * 1024


class MediaStreamError(ValueError):
    """A message breaks the Media Streams protocol; the text is the socket's close reason."""


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    tracks: frozenset[str]
    parameters: dict[str, str]


@dataclass(frozen=True)
class Media:
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Dtmf:
    track: str
    digit: str


@dataclass(frozen=True)
class Stop:
    reason: str = ""


@dataclass(frozen=True)
class Connected:
    protocol: str


Message = Connected | Start | Media | Mark | Dtmf | Stop


def stream_token(auth_token: str, endpoint: str, contact_id: str, call_sid: str) -> str:
    payload = f"media-stream|{endpoint}|{contact_id}|{call_sid}".encode()
    return hmac.new(auth_token.encode(), payload, hashlib.sha256).hexdigest()


def valid_stream_token(auth_token: str, endpoint: str, contact_id: str, call_sid: str, token: str) -> bool:
    expected = stream_token(auth_token, endpoint, contact_id, call_sid)
    return bool(token) and hmac.compare_digest(expected.encode(), token.encode())


def _text(body: dict[str, Any], name: str, where: str, limit: int = 128) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MediaStreamError(f"{where}.{name}: required text of at most {limit} characters")
    return value


def _number(body: dict[str, Any], name: str, where: str) -> int:
    value = body.get(name)
    # Twilio sends chunk and timestamp as decimal strings.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return value
    raise MediaStreamError(f"{where}.{name}: required whole number")


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise MediaStreamError(f"{name}: required object")
    return value


def _start(body: dict[str, Any]) -> Start:
    start = _object(body, "start")
    media_format = start.get("mediaFormat")
    if not isinstance(media_format, dict):
        raise MediaStreamError("start.mediaFormat: required object")
    encoding, rate, channels = (
        media_format.get("encoding"),
        media_format.get("sampleRate"),
        media_format.get("channels"),
    )
    if encoding != ENCODING or rate != SAMPLE_RATE or channels != 1:
        raise MediaStreamError(
            f"start.mediaFormat: only {ENCODING} {SAMPLE_RATE} Hz mono is accepted, "
            f"got {str(encoding)[:40]} {str(rate)[:10]} Hz {str(channels)[:4]} channel(s)"
        )
    tracks = start.get("tracks")
    if not isinstance(tracks, list) or not tracks or not set(tracks) <= TRACKS:
        raise MediaStreamError(f"start.tracks: must name tracks among {sorted(TRACKS)}")
    parameters = start.get("customParameters", {})
    if not isinstance(parameters, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= 256 for k, v in parameters.items()
    ):
        raise MediaStreamError("start.customParameters: must map names to short texts")
    return Start(
        stream_sid=_text(start, "streamSid", "start"),
        call_sid=_text(start, "callSid", "start"),
        tracks=frozenset(tracks),
        parameters=dict(parameters),
    )


def _media(body: dict[str, Any]) -> Media:
    media = _object(body, "media")
    track = _text(media, "track", "media")
    if track not in TRACKS:
        raise MediaStreamError(f"media.track: unknown track {track[:20]!r}")
    raw = _text(media, "payload", "media", limit=MAX_PAYLOAD_BYTES * 4 // 3 + 4)
    try:
        payload = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise MediaStreamError("media.payload: not base64") from None
    return Media(
        track=track,
        chunk=_number(media, "chunk", "media"),
        timestamp_ms=_number(media, "timestamp", "media"),
        payload=payload,
    )


def parse(raw: str | bytes) -> Message:
    """One WebSocket text message -> its typed form, or `MediaStreamError`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MediaStreamError(f"message of {len(raw)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MediaStreamError("message is not JSON") from None
    if not isinstance(body, dict):
        raise MediaStreamError("message is not a JSON object")
    event = body.get("event")
    if event == "connected":
        protocol = body.get("protocol")
        return Connected(protocol=protocol if isinstance(protocol, str) else "")
    if event == "start":
        return _start(body)
    if event == "media":
        return _media(body)
    if event == "mark":
        return Mark(name=_text(_object(body, "mark"), "name", "mark"))
    if event == "dtmf":
        dtmf = _object(body, "dtmf")
        return Dtmf(track=_text(dtmf, "track", "dtmf"), digit=_text(dtmf, "digit", "dtmf", limit=1))
    if event == "stop":
        return Stop()
    raise MediaStreamError(f"event: unknown event {str(event)[:40]!r}")
