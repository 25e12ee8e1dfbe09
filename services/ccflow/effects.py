"""What the executor asks its driver to do; the driver (simulator or routing runtime) does it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SendPrompt:
    node: str
    prompt: str


@dataclass(frozen=True)
class AwaitInput:
    node: str
    prompt: str
    mode: str
    timeout_seconds: float
    attempt: int


@dataclass(frozen=True)
class InvokeAi:
    node: str
    component: str
    task: str
    timeout_seconds: float = 3.0


@dataclass(frozen=True)
class CallIntegration:
    node: str
    integration: str
    timeout_seconds: float


@dataclass(frozen=True)
class ScheduleCallback:
    node: str
    queue: str
    channel: str


@dataclass(frozen=True)
class HandOff:
    """The journey ends in a queue: the contract with the routing queues."""

    node: str
    queue: str
    priority: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferFlow:
    node: str
    flow: str


@dataclass(frozen=True)
class Ended:
    node: str
    outcome: str


Effect = (
    SendPrompt | AwaitInput | InvokeAi | CallIntegration | ScheduleCallback | HandOff | TransferFlow | Ended
)


# Events the driver feeds back to a waiting journey.
@dataclass(frozen=True)
class Input:
    text: str


@dataclass(frozen=True)
class Timeout:
    pass


@dataclass(frozen=True)
class AiResult:
    value: Any


@dataclass(frozen=True)
class IntegrationReply:
    data: Any


@dataclass(frozen=True)
class Failure:
    reason: str


@dataclass(frozen=True)
class CallbackAnswered:
    channel: str


Event = Input | Timeout | AiResult | IntegrationReply | Failure | CallbackAnswered
