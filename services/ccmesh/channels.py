"""The channel vocabulary: the one place where a channel's names are defined.

A contact arrives on one channel. The contracts carry it as `common.v1.ChannelKind`; the
configuration (ChannelEndpoint `channel`, agent capacities, service-level targets), the flow
language (overlays, `callback` nodes, `channel` in conditions), routing (capacity per channel),
the workspace and the events all use the names of `Channel` below. Nobody else keeps a table
of channel names or numbers: import from here.

Earlier spellings are still read (`chat` for the web chat, `generic` for the signed provider
API, `unknown`), so stored documents keep loading; they are never written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator

from contactcenter.common.v1 import common_pb2


class Channel(enum.StrEnum):
    VOICE = "voice"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    WEBCHAT = "webchat"
    #: Work items without a customer conversation (a back-office task, a CRM case).
    TASK = "task"
    #: The tenant's own systems through the signed generic provider API or the tenant API.
    API = "api"


class UnknownChannelError(ValueError):
    """A channel name or number nobody defined; `field` names where it was read."""

    def __init__(self, field_name: str, value: object) -> None:
        names = ", ".join(c.value for c in Channel)
        super().__init__(f"{field_name}: unknown channel {value!r}; one of {names}")
        self.field = field_name
        self.value = value


_KIND = common_pb2.ChannelKind

_BY_KIND: dict[int, Channel] = {
    _KIND.CHANNEL_KIND_VOICE: Channel.VOICE,
    _KIND.CHANNEL_KIND_SMS: Channel.SMS,
    _KIND.CHANNEL_KIND_WHATSAPP: Channel.WHATSAPP,
    _KIND.CHANNEL_KIND_EMAIL: Channel.EMAIL,
    _KIND.CHANNEL_KIND_WEBCHAT: Channel.WEBCHAT,
    _KIND.CHANNEL_KIND_TASK: Channel.TASK,
    _KIND.CHANNEL_KIND_API: Channel.API,
}
_KIND_OF: dict[Channel, int] = {channel: kind for kind, channel in _BY_KIND.items()}

#: Spellings read for compatibility with documents stored before the vocabulary was unified.
_ALIASES: dict[str, Channel] = {"chat": Channel.WEBCHAT, "generic": Channel.API}
_BY_NAME: dict[str, Channel] = {c.value: c for c in Channel}

#: Channels on which a prompt or a reply is a text message (voice speaks it in the call).
TEXT_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.SMS, Channel.WHATSAPP, Channel.EMAIL, Channel.WEBCHAT, Channel.API}
)

#: Every name, in the order the enum declares them (for error messages and schemas).
NAMES: tuple[str, ...] = tuple(c.value for c in Channel)


def parse(value: object, field_name: str = "channel") -> Channel:
    """`value` (a name, an alias or a `Channel`) as a `Channel`; unknown names are an error."""
    if isinstance(value, Channel):
        return value
    if isinstance(value, str):
        # Stored records name their channels exactly; decoding them is a hot path.
        exact = _BY_NAME.get(value)
        if exact is not None:
            return exact
        name = value.strip().lower()
        try:
            return Channel(name)
        except ValueError:
            alias = _ALIASES.get(name)
            if alias is not None:
                return alias
    raise UnknownChannelError(field_name, value)


def parse_many(values: Iterable[object], field_name: str = "channels") -> tuple[Channel, ...]:
    return tuple(parse(v, f"{field_name}[{i}]") for i, v in enumerate(values))


def stored_name(value: str) -> str:
    """A channel name read back from a stored record, in today's spelling.

    For data already accepted (contact records, journeys): a known name or alias becomes the
    canonical name; anything else (an empty name, a value nobody defined) is returned as it is,
    because refusing to load a record would lose it.
    """
    try:
        return parse(value).value
    except UnknownChannelError:
        return value


def from_kind(kind: int, field_name: str = "channel") -> Channel:
    """The channel of a protobuf `ChannelKind`; UNSPECIFIED or an unknown number is an error."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UnknownChannelError(field_name, kind) from None


def from_kind_or_none(kind: int) -> Channel | None:
    """For data read back (events, timelines) where an absent channel is a fact, not an error."""
    return _BY_KIND.get(kind)


def to_kind(channel: Channel | str) -> int:
    """The protobuf `ChannelKind` number of a channel (or of a name `parse` accepts)."""
    return _KIND_OF[parse(channel)]


def name_of_kind(kind: int, default: str = "unknown") -> str:
    """A channel's name for display and logs; `default` when the kind is unspecified."""
    channel = _BY_KIND.get(kind)
    return channel.value if channel is not None else default


def _validate(value: Any) -> Channel:
    return parse(value)


#: A pydantic field type for configuration documents: accepts the names and aliases, stores
#: the canonical `Channel`, and fails validation with the list of valid names.
ChannelField = Annotated[Channel, BeforeValidator(_validate)]
