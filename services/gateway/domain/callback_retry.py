"""When a call back is tried again (pure).

A call placed for a call-back request ends as Twilio reports it. `completed` (the customer
answered; the call is over) and the in-between statuses need nothing. `no-answer`, `busy` and
`failed` are an attempt that did not reach the customer: the next one is placed after the
endpoint's spacing, until its number of attempts is used up; then the call back has failed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Twilio CallStatus values of a call that did not reach the customer.
UNREACHED = frozenset({"no-answer", "busy", "failed"})


class BadAttempt(ValueError):
    """An attempt number or policy that cannot be: the message names the field."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    spacing_seconds: float

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise BadAttempt(f"attempts: at least 1, got {self.attempts}")
        if self.spacing_seconds < 0:
            raise BadAttempt(f"spacing_seconds: not negative, got {self.spacing_seconds}")


@dataclass(frozen=True, slots=True)
class Retry:
    """Place attempt `attempt` at `at` (epoch seconds)."""

    attempt: int
    at: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The last allowed attempt was not answered either: the call back failed."""

    attempts: int


def after_call(policy: RetryPolicy, attempt: int, status: str, now: float) -> Retry | GiveUp | None:
    """What follows attempt `attempt` (from 1) ending with Twilio's `status`; None: nothing (the
    customer answered, or the call has not ended)."""
    if attempt < 1:
        raise BadAttempt(f"attempt: from 1, got {attempt}")
    if status not in UNREACHED:
        return None
    if attempt >= policy.attempts:
        return GiveUp(attempt)
    return Retry(attempt + 1, now + policy.spacing_seconds)
