"""What a journey asks the gateway to do, and how a prompt becomes text on a channel.

The journey engine (routing) names prompts logically (`welcome`, `main-menu`); the channel
endpoint gives their texts. Voice renders prompts itself (TwiML), every other channel gets them
as outbound messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ccmesh import channels

#: Actions whose prompt the customer must read on a text channel.
PROMPTING_ACTIONS = frozenset({"send_prompt", "await_input"})


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


@dataclass(frozen=True)
class RoutingStep:
    """A journey step routing ran by itself (not in answer to this gateway's call), with what it
    asks of the customer's channel."""

    tenant_id: str
    contact_id: str
    #: Routing's event id: the ids of the messages it leads to derive from it.
    event_id: str
    #: routing's JourneyActions, in order.
    actions: tuple[Any, ...]
    status: str
    waiting_for: str
    #: The journey's language (prompts are worded in it when the contact has none).
    language: str = ""


def prompt_text(prompts: Mapping[str, str], name: str, language: str) -> str:
    """`<name>.<language>`, then `<name>.<base language>`, then `<name>`, then the name itself."""
    if language:
        for key in (f"{name}.{language}", f"{name}.{language.split('-')[0]}"):
            if key in prompts:
                return prompts[key]
    return prompts.get(name, name)


def prompts_to_send(actions: list[JourneyAction], channel: str) -> list[JourneyAction]:
    """The actions whose text goes to the customer as a message on `channel`."""
    if channel not in channels.TEXT_CHANNELS:
        return []
    return [action for action in actions if action.kind in PROMPTING_ACTIONS and action.name]
