"""Agents of the ACD: state, skills, languages, brands and capacity per channel (pure).

Capacity rules (why they look like this: a person can type in three chats at once but holds
one phone call, and while on a call they should not be offered chats unless the tenant says so):

- each channel has its own limit, named as everywhere else (`ccmesh.channels`): sms 2 and
  whatsapp 2 are two SMS and two WhatsApp contacts at once; a channel without a limit takes none,
  voice takes at most 1;
- a capacity group caps the sum of several channels only where the configuration declares one
  (e.g. messaging = sms + whatsapp, 3): channels are never merged behind the tenant's back;
- while a voice contact is active or reserved, no other channel is offered unless
  `voice_blocks_other_work` is False;
- reserved (offered, not yet answered) contacts count against capacity like active ones, which
  is what makes an agent impossible to over-book.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ccmesh import channels
from ccmesh.channels import Channel

_V = TypeVar("_V", bound=Hashable)


class AcdInputError(ValueError):
    """Bad input to the ACD; `field` names the offending field (maps to INVALID_ARGUMENT)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class AgentState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    AFTER_CONTACT_WORK = "after_contact_work"
    BREAK = "break"


#: An agent whose configuration names no capacity at all: one contact at a time on every channel.
#: Once any channel is configured, the channels not named take none.
DEFAULT_CAPACITY: Mapping[Channel, int] = {channel: 1 for channel in Channel}


def parse_channel(value: object, field_name: str = "channel") -> Channel:
    """A channel name (or `Channel`) as routing's input error when it is unknown."""
    try:
        return channels.parse(value, field_name)
    except channels.UnknownChannelError as error:
        known = list(channels.NAMES)
        raise AcdInputError(field_name, f"unknown channel {value!r}; one of {known}") from error


def channel_of_kind(kind: int, field_name: str = "channel") -> Channel:
    """The channel of a protobuf `ChannelKind`; unspecified or unknown is routing's input error."""
    channel = channels.from_kind_or_none(kind)
    if channel is None:
        known = list(channels.NAMES)
        raise AcdInputError(field_name, f"unknown or unspecified channel {kind}; one of {known}")
    return channel


@dataclass(frozen=True, slots=True)
class CapacityGroup:
    """Channels whose contacts together count against one limit, on top of each one's own."""

    name: str
    channels: frozenset[Channel]
    capacity: int

    def validate(self, field_name: str) -> None:
        if not self.name:
            raise AcdInputError(f"{field_name}.name", "is required")
        if not self.channels:
            raise AcdInputError(f"{field_name}.channels", "names no channel")
        if self.capacity < 0:
            raise AcdInputError(f"{field_name}.capacity", f"must be >= 0, got {self.capacity}")

    def used(self, active: Mapping[Channel, int]) -> int:
        return sum(active.get(channel, 0) for channel in self.channels)


def parse_state(value: str, field_name: str = "state") -> AgentState:
    try:
        return AgentState(value)
    except ValueError:
        known = [s.value for s in AgentState]
        raise AcdInputError(field_name, f"unknown agent state {value!r}; one of {known}") from None


#: One copy of each small immutable value many profiles hold alike (language sets, channel
#: tuples): a region's 100k agents then share a handful of objects that stay in the CPU's
#: cache, instead of one copy each that every routing decision has to fetch from memory.
_SHARED: dict[Any, Any] = {}
_SHARED_MAX = 4096


def _shared(kind: str, value: _V) -> _V:
    """The shared copy of `value`; `kind` keeps equal values of different fields apart (a
    `Channel` equals its string, so a tuple of channels equals a tuple of strings)."""
    key = (kind, value)
    try:
        shared = _SHARED.get(key)
    except TypeError:  # not hashable (a caller's plain set): nothing to share
        return value
    if shared is not None:
        return shared  # type: ignore[no-any-return]
    if len(_SHARED) < _SHARED_MAX:  # bounded: odd values beyond it just keep their own copy
        _SHARED[key] = value
    return value


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What an agent can do; set by configuration, not by routing."""

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    home_region: str = ""
    capacity: Mapping[Channel, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    voice_blocks_other_work: bool = True
    #: Limits on the sum of several channels (none by default: each channel on its own).
    groups: tuple[CapacityGroup, ...] = ()
    #: Channels with a capacity above 0 (and in no group of capacity 0): where an idle,
    #: available agent has room. Derived once here (not a `cached_property`, whose look-up
    #: costs more on 3.11): the agent index asks for it after every change of an agent.
    channels_offered: tuple[Channel, ...] = field(init=False, repr=False, compare=False)
    #: (channel, limit) of the channels an agent already holding work (none of it voice) may
    #: still have room on: all offered ones, but voice when voice needs a free agent.
    limits_while_busy: tuple[tuple[Channel, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        closed = {c for g in self.groups if g.capacity <= 0 for c in g.channels}
        offered = tuple(
            channel for channel, limit in self.capacity.items() if limit > 0 and channel not in closed
        )
        busy = tuple(
            (channel, limit)
            for channel, limit in self.capacity.items()
            if limit > 0
            and channel not in closed
            and not (self.voice_blocks_other_work and channel is Channel.VOICE)
        )
        object.__setattr__(self, "channels_offered", _shared("channels_offered", offered))
        object.__setattr__(self, "limits_while_busy", _shared("limits_while_busy", busy))
        object.__setattr__(self, "languages", _shared("languages", self.languages))
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
        names = set()
        for i, group in enumerate(self.groups):
            group.validate(f"capacity_groups[{i}]")
            if group.name in names:
                raise AcdInputError(f"capacity_groups[{i}].name", f"{group.name!r} is given twice")
            names.add(group.name)


@dataclass(frozen=True, slots=True)
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
    # The load's map is read directly (not through `count`/`total`): every reservation asks.
    active = load.active
    if state is not AgentState.AVAILABLE and not (state is AgentState.BUSY and load.total() > 0):
        return f"agent is {state.value}"
    limit = profile.capacity.get(channel, 0)
    if active.get(channel, 0) >= limit:
        return f"{channel.value} capacity {limit} reached"
    if profile.voice_blocks_other_work and active:
        if channel is not Channel.VOICE and active.get(Channel.VOICE, 0) > 0:
            return "on a voice contact"
        if channel is Channel.VOICE and load.total() > 0:
            return "voice needs a free agent"
    for group in profile.groups:
        if channel in group.channels and group.used(active) >= group.capacity:
            return f"{group.name} capacity {group.capacity} reached"
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
    if profile.voice_blocks_other_work and active.get(Channel.VOICE, 0) > 0:
        return ()  # voice is full and blocks every other channel
    # Busy: every channel with room (but voice, when voice needs a free agent). A plain loop:
    # this runs for every reservation and release, and a generator costs more.
    room = []
    groups = profile.groups
    for channel, limit in profile.limits_while_busy:
        if active.get(channel, 0) < limit and (
            not groups or all(g.used(active) < g.capacity for g in groups if channel in g.channels)
        ):
            room.append(channel)
    return tuple(room)


def occupancy(profile: AgentProfile, load: AgentLoad) -> float:
    """Share of the agent's total capacity in use, 0..1 (for least-occupied matching)."""
    total = sum(profile.capacity.values())
    return load.total() / total if total else 1.0
