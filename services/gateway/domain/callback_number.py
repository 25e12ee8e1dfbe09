"""An e-mail that asks for a call back, and the number it gives (pure).

An e-mail's address is no number to call, so its `CALL ME` counts when a number is known: one
written with it (`CALL ME on +44 20 7183 8750`) or, failing that, the sender's phone from their
customer profile. The rest of the message must be the command itself (`ccmesh.callback_commands`).
"""

from __future__ import annotations

import re

from ccmesh.callback_commands import Command, command_in

#: An international number as people write it: `+`, then digits with spaces, dots, dashes or
#: brackets between them.
_WRITTEN_NUMBER = re.compile(r"\+\d[\d\s().-]{5,20}\d")
_LINKING_WORDS = ("on", "at", "to")


def call_me_request(text: str) -> tuple[bool, str]:
    """(whether the message asks for a call back, the E.164 number it gives or "")."""
    found = _WRITTEN_NUMBER.search(text)
    number = ""
    rest = text
    if found is not None:
        number = "+" + re.sub(r"\D", "", found.group())
        words = (text[: found.start()] + " " + text[found.end() :]).split()
        # "call me on <number>": the word that led to the number goes with it.
        rest = " ".join(w for w in words if w.lower().strip(".,!") not in _LINKING_WORDS)
    if command_in(rest) is not Command.REQUEST:
        return False, ""
    return True, number if 8 <= len(number) <= 16 else ""
