"""Twilio's recording status callback, read and checked: which recording of which call is
complete, where its audio is, and that the audio address is the provider's own.

The callback is signed like every Twilio webhook (checked by the entry point); its query names
the contact (set by the gateway in the TwiML's `recordingStatusCallback`) and whether a live
media stream transcribed the call. A recording's audio is fetched from `RecordingUrl` with the
account's credentials, so that address must be on the endpoint's provider API host: a callback
cannot point the gateway at another server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Twilio's public REST API, where recordings live unless the endpoint names another base.
TWILIO_API = "https://api.twilio.com"
_SID = re.compile(r"^[A-Z]{2}[0-9A-Za-z]{8,64}$")
_CONTACT = re.compile(r"^[0-9A-Za-z-]{1,64}$")


class RecordingCallbackError(ValueError):
    """A callback field is missing or wrong; the text names it."""


@dataclass(frozen=True)
class RecordingCompleted:
    recording_sid: str
    call_sid: str
    contact_id: str
    #: Where the audio is (a `.wav` is asked for: 16-bit PCM, one channel per side).
    media_url: str
    duration_seconds: float
    channels: int
    #: The recording is to be transcribed after the call: no live media stream transcribed it and
    #: the region's rules allowed transcription when the call was answered.
    transcribe_after: bool


def _sid(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not _SID.match(value):
        raise RecordingCallbackError(
            f"{name}: required provider id (two capital letters and 8-64 letters or digits)"
        )
    return value


def media_host_allowed(url: str, provider_api_url: str) -> bool:
    """Whether `url` is on the provider API's scheme and host (and port)."""
    allowed = urlsplit(provider_api_url or TWILIO_API)
    found = urlsplit(url)
    return (found.scheme, found.netloc) == (allowed.scheme, allowed.netloc) and found.scheme in (
        "http",
        "https",
    )


def parse_completed(
    fields: dict[str, str], query: dict[str, str], provider_api_url: str
) -> RecordingCompleted | None:
    """The completed recording, None for another status (`absent`, `in-progress`: nothing to keep),
    or `RecordingCallbackError` naming the problem."""
    status = fields.get("RecordingStatus", "")
    if status != "completed":
        if status in ("in-progress", "absent", "failed"):
            return None
        raise RecordingCallbackError(f"RecordingStatus: unknown status {status[:20]!r}")
    contact = query.get("contact", "")
    if not _CONTACT.match(contact):
        raise RecordingCallbackError("contact: the callback URL names no contact")
    url = fields.get("RecordingUrl", "")
    if len(url) > 2000 or not media_host_allowed(url, provider_api_url):
        raise RecordingCallbackError("RecordingUrl: not on the provider's API host")
    duration = fields.get("RecordingDuration", "0")
    channels = fields.get("RecordingChannels", "1")
    if not (duration.isascii() and duration.isdigit() and len(duration) <= 7):
        raise RecordingCallbackError("RecordingDuration: required whole seconds")
    if channels not in ("1", "2"):
        raise RecordingCallbackError("RecordingChannels: 1 or 2")
    return RecordingCompleted(
        recording_sid=_sid(fields, "RecordingSid"),
        call_sid=_sid(fields, "CallSid"),
        contact_id=contact,
        media_url=url.removesuffix(".wav").removesuffix(".mp3") + ".wav",
        duration_seconds=float(duration),
        channels=int(channels),
        transcribe_after=query.get("transcribe") == "1",
    )


@dataclass(frozen=True)
class RecordingKept:
    tenant_id: str
    brand_id: str
    contact_id: str
    recording_sid: str
    call_sid: str
    bucket: str
    object: str
    size: int
    duration_seconds: float
    channels: int
    #: The ai service transcribes it (no live stream did).
    transcribing: bool
    language: str
