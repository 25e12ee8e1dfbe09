"""What the AI service told about a customer's first message, before the contact is queued."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Learned:
    #: "" when the language could not be told reliably (a one-word "hello").
    language: str = ""
    #: "" when unknown; "out_of_scope" when no trained intent fits.
    intent: str = ""
    #: -1 .. 1.
    sentiment: float = 0.0


NOTHING = Learned()
