"""What a journey's AI and integration steps get back from the systems they ask (pure values)."""

from __future__ import annotations

from dataclasses import dataclass


class WorkFailed(Exception):
    """The AI service or a system could not do what a node asked (the reason is the message)."""


@dataclass(frozen=True)
class Analysis:
    """What the AI service found in one text."""

    language: str
    intent: str
    sentiment: float
    #: Whether the language is sure enough to route by (a one-word "hello" is not).
    language_reliable: bool = True


@dataclass(frozen=True)
class QueueLoad:
    """A queue's load now, as the platform's own `queue-status` integration reports it."""

    waiting: int
    longest_wait_seconds: float
    staffed_agents: int
    expected_wait_seconds: float
