"""The words policies speak: consent purposes and the actions rules govern (one owner for both)."""

from __future__ import annotations

from enum import StrEnum


class UnknownNameError(ValueError):
    """A purpose or action name that is not part of the vocabulary; the text lists the known ones."""


class Purpose(StrEnum):
    """What a customer consents to (or withdraws from)."""

    RECORDING = "recording"
    TRANSCRIPTION = "transcription"
    AI_ANALYSIS = "ai_analysis"
    MARKETING = "marketing"


class Action(StrEnum):
    """Something a component is about to do that a rule may refuse."""

    #: Record a call's audio.
    RECORD = "record"
    #: Turn a call's audio into text (live media stream or a recording afterwards).
    TRANSCRIBE = "transcribe"
    #: Run AI analysis (intent, sentiment, summary) on what the customer said.
    ANALYSE = "analyse"
    #: Send marketing to the customer.
    MARKET = "market"
    #: Contact the customer first (a call back, an outbound message).
    OUTBOUND_CONTACT = "outbound_contact"
    #: Export contact records out of the platform.
    EXPORT = "export"
    #: Let an event leave the region (replication, a hand-over, a webhook elsewhere).
    LEAVE_REGION = "leave_region"


PURPOSES: tuple[str, ...] = tuple(p.value for p in Purpose)

#: The consent an action needs when a consent rule covers its purpose.
ACTION_PURPOSE: dict[Action, Purpose] = {
    Action.RECORD: Purpose.RECORDING,
    Action.TRANSCRIBE: Purpose.TRANSCRIPTION,
    Action.ANALYSE: Purpose.AI_ANALYSIS,
    Action.MARKET: Purpose.MARKETING,
}


def purpose(name: str, field: str = "purpose") -> Purpose:
    try:
        return Purpose(name)
    except ValueError:
        raise UnknownNameError(f"{field}: unknown purpose {name!r}; known: {list(PURPOSES)}") from None


def action(name: str, field: str = "action") -> Action:
    try:
        return Action(name)
    except ValueError:
        known = [a.value for a in Action]
        raise UnknownNameError(f"{field}: unknown action {name!r}; known: {known}") from None
