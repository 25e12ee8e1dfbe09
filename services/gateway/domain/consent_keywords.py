"""Withdrawing consent on the channel itself: a message that is only a keyword phrase.

As easy as giving it: a customer writes "STOP RECORDING" (SMS, WhatsApp, chat, e-mail subject
aside) and their consent to the purposes of that phrase is withdrawn. The message still reaches
the conversation like any other.
"""

from __future__ import annotations

import re

from ccpolicy import Purpose

#: Phrase (upper case, single spaces) -> the purposes it withdraws.
WITHDRAWAL_PHRASES: dict[str, tuple[Purpose, ...]] = {
    "STOP RECORDING": (Purpose.RECORDING, Purpose.TRANSCRIPTION),
    "STOP TRANSCRIPTION": (Purpose.TRANSCRIPTION,),
    "STOP AI": (Purpose.AI_ANALYSIS,),
    "STOP MARKETING": (Purpose.MARKETING,),
    "WITHDRAW CONSENT": tuple(Purpose),
}
_SPACES = re.compile(r"\s+")
#: Longer than any phrase plus punctuation: not worth normalising.
_MAX_LENGTH = 40


_WORDS = {
    Purpose.RECORDING: "recording",
    Purpose.TRANSCRIPTION: "transcription",
    Purpose.AI_ANALYSIS: "AI analysis",
    Purpose.MARKETING: "marketing",
}


def withdrawal_confirmation(purposes: tuple[str, ...]) -> str:
    """What the customer is told on their channel once their consent is withdrawn."""
    words = [_WORDS[Purpose(p)] for p in purposes]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"Done: your consent to {listed} is withdrawn. We will not use it from now on."


def withdrawn_purposes(text: str) -> tuple[Purpose, ...]:
    """The purposes a message withdraws; () when it is not a withdrawal phrase."""
    if len(text) > _MAX_LENGTH:
        return ()
    phrase = _SPACES.sub(" ", text.strip().rstrip(".!").upper())
    return WITHDRAWAL_PHRASES.get(phrase, ())
