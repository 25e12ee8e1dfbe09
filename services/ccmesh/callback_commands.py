"""The words a customer writes to ask for a call back or cancel one (pure).

`CALL ME` (or `CALLBACK`, `CALL ME BACK`, `CALL BACK`) asks to be called back keeping one's
place; `CANCEL` (or `CANCEL CALLBACK`) takes a request that still waits out of the queue. Only a
message that is the command itself counts (case, spacing, punctuation and a trailing `please`
aside): a sentence that happens to contain "call me" is conversation, not a command. Routing
carries the commands out; the gateway reads them too, where it holds the number to call.
"""

from __future__ import annotations

import enum
import re

from ccmesh.channels import Channel

#: Channels whose address is a number a call back reaches: their customer asks by `CALL ME`.
CALLABLE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


class Command(enum.StrEnum):
    REQUEST = "request"
    CANCEL = "cancel"


_WORDS = re.compile(r"[a-z]+")
_COMMANDS: dict[tuple[str, ...], Command] = {
    ("call", "me"): Command.REQUEST,
    ("call", "me", "back"): Command.REQUEST,
    ("call", "back"): Command.REQUEST,
    ("callback",): Command.REQUEST,
    ("cancel",): Command.CANCEL,
    ("cancel", "callback"): Command.CANCEL,
    ("cancel", "call", "back"): Command.CANCEL,
    ("cancel", "the", "call", "back"): Command.CANCEL,
    ("cancel", "the", "callback"): Command.CANCEL,
}


def command_in(text: str) -> Command | None:
    """The call-back command a customer's message is, or None for anything else."""
    if len(text) > 60:  # a command is a few words; longer text is conversation
        return None
    words = tuple(_WORDS.findall(text.lower()))
    if words[-1:] == ("please",):
        words = words[:-1]
    if words[:1] == ("please",):
        words = words[1:]
    return _COMMANDS.get(words)
