"""Failures a test asks the sandbox to answer with, before it answers normally again.

A fault is scripted for one route (`sms`, `call`, `call_update`, `whatsapp`, `email`, `generic`,
`crm`) and used by the next request there: an HTTP status with the provider's error code
(`status`), a reply that comes only after `delay_seconds` (the client's timeout fires first), or
a connection closed without any answer (`drop`). For mail, `status` is the SMTP reply code
(4xx: try later, 5xx: final).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

ROUTES = frozenset({"sms", "call", "call_update", "whatsapp", "email", "generic", "crm"})


class FaultError(ValueError):
    """A fault that cannot be scripted; the message names the field."""


@dataclass(frozen=True)
class Fault:
    status: int = 0
    #: The provider's error code in the body (Twilio 20500, Graph 131000...); 0: a typical one.
    code: int = 0
    message: str = "sandbox: scripted failure"
    retry_after: str = ""
    delay_seconds: float = 0.0
    drop: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fault:
        unknown = sorted(
            set(raw) - {"status", "code", "message", "retry_after", "delay_seconds", "drop", "route"}
        )
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(unknown)}")
        try:
            fault = cls(
                status=int(raw.get("status", 0)),
                code=int(raw.get("code", 0)),
                message=str(raw.get("message", cls.message))[:500],
                retry_after=str(raw.get("retry_after", "")),
                delay_seconds=float(raw.get("delay_seconds", 0.0)),
                drop=bool(raw.get("drop", False)),
            )
        except (TypeError, ValueError) as error:
            raise FaultError(f"fault: {error}") from None
        if not fault.drop and not fault.delay_seconds and not 400 <= fault.status <= 599:
            raise FaultError("status: a fault needs a 4xx/5xx status, delay_seconds or drop")
        if fault.status and not 400 <= fault.status <= 599:
            raise FaultError(f"status: {fault.status} is not an error status (400-599)")
        if not 0 <= fault.delay_seconds <= 600:
            raise FaultError("delay_seconds: between 0 and 600")
        return fault


class Faults:
    def __init__(self) -> None:
        self._pending: dict[str, deque[Fault]] = defaultdict(deque)

    def script(self, route: str, *faults: Fault) -> None:
        if route not in ROUTES:
            raise FaultError(f"route: {route!r} is not one of {', '.join(sorted(ROUTES))}")
        self._pending[route].extend(faults)

    def next(self, route: str) -> Fault | None:
        pending = self._pending.get(route)
        return pending.popleft() if pending else None

    def pending(self) -> dict[str, int]:
        return {route: len(queue) for route, queue in self._pending.items() if queue}

    def clear(self) -> None:
        self._pending.clear()
