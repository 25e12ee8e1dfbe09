"""Agents of the ACD: state, skills, languages, brands and capacity per channel (pure).

Capacity rules (why they look like this: a person can type in three chats at once but holds
one phone call, and while on a call they should not be offered chats unless the tenant says so):

- each channel has its own limit (voice 1 by default; chat/messaging up to N);
- while a voice contact is active or reserved, no other channel is offered unless
  `voice_blocks_other_work` is False;
- reserved (offered, not yet answered) contacts count against capacity like active ones, which
  is what makes an agent impossible to over-book.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field


class AcdInputError(ValueError):
    """Bad input to the ACD; `field` names the offending field (maps to INVALID_ARGUMENT)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class Channel(enum.StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    MESSAGING = "messaging"
    EMAIL = "email"


class AgentState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    AFTER_CONTACT_WORK = "after_contact_work"
    BREAK = "break"


DEFAULT_CAPACITY: Mapping[Channel, int] = {Channel.VOICE: 1, Channel.CHAT: 1, Channel.MESSAGING: 1}


def parse_channel(value: str, field_name: str = "channel") -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise AcdInputError(
            field_name, f"unknown channel {value!r}; one of {[c.value for c in Channel]}"
        ) from None


def parse_state(value: str, field_name: str = "state") -> AgentState:
    try:
        return AgentState(value)
    except ValueError:
        known = [s.value for s in AgentState]
        raise AcdInputError(field_name, f"unknown agent state {value!r}; one of {known}") from None


@dataclass(frozen=True)
class AgentProfile:
    """What an agent can do; set by configuration, not by routing."""

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    home_region: str = ""
    capacity: Mapping[Channel, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    voice_blocks_other_work: bool = True

    @functools.cached_property
    def channels_offered(self) -> tuple[Channel, ...]:
        """Channels with a capacity above 0: where an idle, available agent has room."""
        return tuple(channel for channel, limit in self.capacity.items() if limit > 0)

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise AcdInputError("agent_id", "is required")
        for skill, level in self.skills.items():
            if not 1 <= level <= 5:
                raise AcdInputError(f"skills.{skill}", f"proficiency must be 1-5, got {level}")
        for channel, limit in self.capacity.items():
            if limit < 0:
                raise AcdInputError(f"capacity.{channel.value}", f"must be >= 0, got {limit}")
        if self.capacity.get(Channel.VOICE, 0) > 1:
            raise AcdInputError("capacity.voice", "an agent holds at most one voice contact")


@dataclass(frozen=True)
class AgentLoad:
    """Contacts an agent holds or has been offered, per channel (offered count like active)."""

    active: Mapping[Channel, int] = field(default_factory=dict)

    def count(self, channel: Channel) -> int:
        return self.active.get(channel, 0)

    def total(self) -> int:
        return sum(self.active.values())


def capacity_refusal(
    profile: AgentProfile, state: AgentState, load: AgentLoad, channel: Channel
) -> str | None:
    """Why the agent cannot take one more contact on `channel`, or None when it can."""
    if state is not AgentState.AVAILABLE and not (state is AgentState.BUSY and load.total() > 0):
        return f"agent is {state.value}"
    limit = profile.capacity.get(channel, 0)
    if load.count(channel) >= limit:
        return f"{channel.value} capacity {limit} reached"
    if profile.voice_blocks_other_work:
        if channel is not Channel.VOICE and load.count(Channel.VOICE) > 0:
            return "on a voice contact"
        if channel is Channel.VOICE and load.total() > 0:
            return "voice needs a free agent"
    return None


def channels_with_room(profile: AgentProfile, state: AgentState, load: AgentLoad) -> tuple[Channel, ...]:
    """The channels on which `capacity_refusal` would find no reason to refuse, in one pass.

    The agent index asks this after every change of an agent, so it avoids building the
    refusal reasons it does not need, and answers an idle available agent from its profile.
    """
    active = load.active
    if not active or not any(active.values()):
        return profile.channels_offered if state is AgentState.AVAILABLE else ()
    if state is not AgentState.AVAILABLE and state is not AgentState.BUSY:
        return ()
    if profile.voice_blocks_other_work:
        if active.get(Channel.VOICE, 0) > 0:
            return ()  # voice is full and blocks every other channel
        # Busy on another channel: every channel but voice, where there is room.
        return tuple(
            channel
            for channel, limit in profile.capacity.items()
            if channel is not Channel.VOICE and active.get(channel, 0) < limit
        )
    return tuple(channel for channel, limit in profile.capacity.items() if active.get(channel, 0) < limit)


def occupancy(profile: AgentProfile, load: AgentLoad) -> float:
    """Share of the agent's total capacity in use, 0..1 (for least-occupied matching)."""
    total = sum(profile.capacity.values())
    return load.total() / total if total else 1.0
