"""TwiML for a voice call, rendered from the journey's actions.

The journey engine speaks in channel-neutral actions; on a phone line they become Twilio's
verbs: a prompt is `<Say>` (or `<Play>` when the prompt is an audio URL), waiting for input is
`<Gather>` (prompts just before it are nested so the caller can barge in), a hand-off is
`<Enqueue>`, connecting an agent is `<Dial>`, the end is `<Hangup/>`. ElementTree escapes
every text and attribute, so a prompt can never inject markup.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
DEFAULT_GATHER_SECONDS = 5
#: Silence between two rounds of the hold message.
HOLD_PAUSE_SECONDS = 10
#: The key a caller on hold presses to hang up and be called back, keeping their place.
CALLBACK_KEY = "1"
DEFAULT_CALLBACK_OFFER = "To hang up and be called back when it is your turn, keeping your place, press 1."
DEFAULT_CALLBACK_KEPT = "Thank you. We will call you back on this number when it is your turn. Goodbye."
#: Actions that are work for other parts of the platform (AI, integrations, callbacks): no verb.
#: A collect node's mode -> what Gather listens for (anything else: both keys and speech).
_GATHER_INPUT = {"dtmf": "dtmf", "speech": "speech"}
_SILENT = frozenset({"invoke_ai", "call_integration", "schedule_callback", "transfer_flow"})


class Action(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def mode(self) -> str: ...


@dataclass(frozen=True)
class VoiceUrls:
    """Where Twilio calls back: the gather result and the music callers hear while queued."""

    gather: str
    wait: str


def _is_audio_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


def _prompt(parent: ET.Element, action: Action, language: str) -> None:
    # The conversation resolved the prompt's words (or a recording URL) from the endpoint's
    # prompts map; without an entry the flow's own name is spoken, audible rather than silent.
    _say_or_play(parent, action.text or action.name, language)


def _say_or_play(parent: ET.Element, text: str, language: str) -> None:
    if _is_audio_url(text):
        ET.SubElement(parent, "Play").text = text
        return
    say = ET.SubElement(parent, "Say")
    if _is_twilio_locale(language):
        say.set("language", language)
    say.text = text


def _is_twilio_locale(language: str) -> bool:
    # Twilio's <Say>/<Gather> take locales such as en-GB; a bare "en" is left to the default voice.
    return len(language) == 5 and language[2] == "-"


def _dial(parent: ET.Element, target: str) -> None:
    dial = ET.SubElement(parent, "Dial")
    if target.startswith("client:"):
        ET.SubElement(dial, "Client").text = target.removeprefix("client:")
    elif target.startswith("sip:"):
        ET.SubElement(dial, "Sip").text = target
    else:
        ET.SubElement(dial, "Number").text = target


@dataclass(frozen=True)
class MediaStream:
    """Where the call's audio is streamed (`wss://.../media`) and the parameters that bind the
    stream to the call's contact (signed, see `gateway.domain.media_stream`)."""

    url: str
    parameters: Mapping[str, str]


def _start_stream(response: ET.Element, stream: MediaStream) -> None:
    # <Start> forks the audio and the call goes on; both tracks: the caller and what they hear.
    start = ET.SubElement(response, "Start")
    element = ET.SubElement(start, "Stream", {"url": stream.url, "track": "both_tracks"})
    for name, value in stream.parameters.items():
        ET.SubElement(element, "Parameter", {"name": name, "value": value})


@dataclass(frozen=True)
class CallRecording:
    """Record the call from its start, caller and agent on two channels; `status_url` hears
    when the recording is complete (signed by the provider like every webhook)."""

    status_url: str


def _start_recording(response: ET.Element, recording: CallRecording) -> None:
    start = ET.SubElement(response, "Start")
    ET.SubElement(
        start,
        "Recording",
        {
            "channels": "dual",
            "track": "both",
            "recordingStatusCallback": recording.status_url,
            "recordingStatusCallbackMethod": "POST",
            "recordingStatusCallbackEvent": "completed",
        },
    )


def render_voice(
    actions: Iterable[Action],
    *,
    urls: VoiceUrls,
    language: str = "",
    stream: MediaStream | None = None,
    recording: CallRecording | None = None,
) -> str:
    response = ET.Element("Response")
    if recording is not None:
        _start_recording(response, recording)
    if stream is not None:
        _start_stream(response, stream)
    pending_prompts: list[Action] = []

    def flush(parent: ET.Element) -> None:
        for prompt in pending_prompts:
            _prompt(parent, prompt, language)
        pending_prompts.clear()

    for action in actions:
        kind = action.kind
        if kind == "send_prompt":
            pending_prompts.append(action)
        elif kind == "await_input":
            if action.name:
                pending_prompts.append(action)
            seconds = action.timeout_seconds or DEFAULT_GATHER_SECONDS
            gather = ET.SubElement(
                response,
                "Gather",
                {
                    "input": _GATHER_INPUT.get(action.mode, "dtmf speech"),
                    "action": urls.gather,
                    "method": "POST",
                    "timeout": str(max(1, math.ceil(seconds))),
                    # An empty result still calls back, so the journey hears about the silence.
                    "actionOnEmptyResult": "true",
                },
            )
            if _is_twilio_locale(language):
                gather.set("language", language)
            flush(gather)
            # Twilio runs the Gather's action; verbs after it would never play.
            return _serialise(response)
        elif kind == "hand_off":
            flush(response)
            ET.SubElement(
                response, "Enqueue", {"waitUrl": urls.wait, "waitUrlMethod": "POST"}
            ).text = action.name
            return _serialise(response)
        elif kind == "dial":
            flush(response)
            _dial(response, action.name)
            return _serialise(response)
        elif kind == "ended":
            flush(response)
            ET.SubElement(response, "Hangup")
            return _serialise(response)
        elif kind not in _SILENT:
            continue
    flush(response)
    return _serialise(response)


@dataclass(frozen=True)
class QueueWait:
    """What Twilio tells a waitUrl about the caller's place: 0 when it did not say."""

    position: int = 0
    average_wait_seconds: int = 0


def render_hold(
    *,
    prompts: Mapping[str, str],
    language: str = "",
    wait: QueueWait | None = None,
    wait_url: str = "",
    callback_url: str = "",
) -> str:
    """What a queued caller hears: their place, the expected wait, the hold message, then again.

    `queue-position` and `queue-wait` prompts may reword the first two (`{position}`, `{minutes}`);
    the hold prompt may be an audio URL (played). The `<Redirect>` fetches this document again, so
    the numbers are fresh each round until the call is put through to an agent.
    `callback_url`: the caller is offered a call back (`callback-offer` prompt) and the messages
    are inside a `<Gather>` for one key, so pressing 1 (sent to that URL) interrupts them.
    """
    root = ET.Element("Response")
    response = root
    if callback_url:
        response = ET.SubElement(
            root,
            "Gather",
            {
                "input": "dtmf",
                "numDigits": "1",
                "action": callback_url,
                "method": "POST",
                "timeout": str(HOLD_PAUSE_SECONDS),
            },
        )
    wait = wait or QueueWait()
    if wait.position > 0:
        template = prompts.get("queue-position", "You are number {position} in the queue.")
        _say_or_play(response, template.replace("{position}", str(wait.position)), language)
    if wait.average_wait_seconds > 0:
        minutes = max(1, math.ceil(wait.average_wait_seconds / 60))
        default = (
            "The estimated wait is about {minutes} minute."
            if minutes == 1
            else ("The estimated wait is about {minutes} minutes.")
        )
        template = prompts.get("queue-wait", default)
        _say_or_play(response, template.replace("{minutes}", str(minutes)), language)
    _say_or_play(response, prompts.get("hold", "Please hold, an agent will be with you shortly."), language)
    if callback_url:
        # The Gather's own timeout is the pause between two rounds.
        _say_or_play(response, prompts.get("callback-offer", DEFAULT_CALLBACK_OFFER), language)
    else:
        ET.SubElement(response, "Pause", {"length": str(HOLD_PAUSE_SECONDS)})
    if wait_url:
        ET.SubElement(root, "Redirect", {"method": "POST"}).text = wait_url
    return _serialise(root)


def render_enqueue(*, queue: str, prompt: str, wait_url: str, language: str = "") -> str:
    """Put a live call (back) in a queue: an optional prompt, then `<Enqueue>` with its wait URL."""
    response = ET.Element("Response")
    if prompt:
        _say_or_play(response, prompt, language)
    enqueue = ET.SubElement(response, "Enqueue", {"waitUrlMethod": "POST"})
    if wait_url:
        enqueue.set("waitUrl", wait_url)
    enqueue.text = queue
    return _serialise(response)


def render_no_input(*, gather_url: str, prompt: str, timeout_seconds: int, language: str = "") -> str:
    """The caller said and keyed nothing: ask again, listening for the same answer."""
    response = ET.Element("Response")
    gather = ET.SubElement(
        response,
        "Gather",
        {
            "input": "dtmf speech",
            "action": gather_url,
            "method": "POST",
            "timeout": str(timeout_seconds),
            "actionOnEmptyResult": "true",
        },
    )
    _say_or_play(gather, prompt, language)
    return _serialise(response)


def render_hangup(*, prompt: str = "", language: str = "") -> str:
    response = ET.Element("Response")
    if prompt:
        _say_or_play(response, prompt, language)
    ET.SubElement(response, "Hangup")
    return _serialise(response)


def render_redirect(url: str) -> str:
    """Go on at `url` (e.g. back to the hold message)."""
    response = ET.Element("Response")
    ET.SubElement(response, "Redirect", {"method": "POST"}).text = url
    return _serialise(response)


def empty_response() -> str:
    """Nothing to do now: messaging replies go out through the provider's REST API instead."""
    return _serialise(ET.Element("Response"))


def _serialise(response: ET.Element) -> str:
    return XML_DECLARATION + ET.tostring(response, encoding="unicode")
