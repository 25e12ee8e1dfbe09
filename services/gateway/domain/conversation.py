"""What a journey asks the gateway to do, and how a prompt becomes text on a channel.

The journey engine (routing) names prompts logically (`welcome`, `main-menu`); the channel
endpoint gives their texts. Voice renders prompts itself (TwiML), every other channel gets them
as outbound messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from contactcenter.common.v1 import common_pb2

#: Endpoint channel names by the ChannelKind a message carries.
CHANNEL_NAMES: dict[int, str] = {
    common_pb2.CHANNEL_KIND_VOICE: "voice",
    common_pb2.CHANNEL_KIND_SMS: "sms",
    common_pb2.CHANNEL_KIND_WHATSAPP: "whatsapp",
    common_pb2.CHANNEL_KIND_EMAIL: "email",
    common_pb2.CHANNEL_KIND_WEBCHAT: "webchat",
    common_pb2.CHANNEL_KIND_API: "generic",
}
CHANNEL_KINDS: dict[str, int] = {name: kind for kind, name in CHANNEL_NAMES.items()}

#: Channels whose prompts are sent as messages (voice speaks them in the call instead).
TEXT_CHANNELS = frozenset({"sms", "whatsapp", "email", "webchat", "generic"})

#: Actions whose prompt the customer must read on a text channel.
PROMPTING_ACTIONS = frozenset({"send_prompt", "await_input"})


def channel_name(kind: int) -> str:
    return CHANNEL_NAMES.get(kind, "generic")


def journey_channel(channel: str) -> str:
    """The flow language's name of a channel (its overlays and `callback` nodes say `chat`)."""
    return {"webchat": "chat", "generic": "chat"}.get(channel, channel)


def endpoint_channel(journey_channel_name: str) -> str:
    return {"chat": "webchat"}.get(journey_channel_name, journey_channel_name)


@dataclass(frozen=True)
class JourneyAction:
    """One step the journey asks of its driver (see routing's JourneyAction)."""

    kind: str
    node: str
    #: Prompt, queue, flow, AI component or integration, depending on `kind`.
    name: str
    mode: str = ""
    timeout_seconds: float = 0.0
    attempt: int = 0
    channel: str = ""
    #: The prompt's text on this endpoint (send_prompt, await_input), for whoever renders it.
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JourneyAction:
        return cls(
            kind=str(raw.get("kind", "")),
            node=str(raw.get("node", "")),
            name=str(raw.get("name", "")),
            mode=str(raw.get("mode", "")),
            timeout_seconds=float(raw.get("timeout_seconds", 0.0)),
            attempt=int(raw.get("attempt", 0)),
            channel=str(raw.get("channel", "")),
            text=str(raw.get("text", "")),
        )


def prompt_text(prompts: Mapping[str, str], name: str, language: str) -> str:
    """`<name>.<language>`, then `<name>.<base language>`, then `<name>`, then the name itself."""
    if language:
        for key in (f"{name}.{language}", f"{name}.{language.split('-')[0]}"):
            if key in prompts:
                return prompts[key]
    return prompts.get(name, name)


def prompts_to_send(actions: list[JourneyAction], channel: str) -> list[JourneyAction]:
    """The actions whose text goes to the customer as a message on `channel`."""
    if channel not in TEXT_CHANNELS:
        return []
    return [action for action in actions if action.kind in PROMPTING_ACTIONS and action.name]
