"""What the sandbox was asked to send, kept in arrival order.

Every provider request is one record, whether the sandbox accepted it or answered with an error
(a scripted fault, bad credentials): a test reads the attempts, a person reads what arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any

#: Records kept; older ones are dropped first (a long `make run` must not grow without bound).
MAX_RECORDS = 5000


@dataclass(frozen=True)
class Sent:
    """One request to a provider API: a message, a mail, a call placed or a live call redirected."""

    seq: int
    at: float
    #: twilio, whatsapp_cloud or smtp.
    provider: str
    #: sms, whatsapp, email, call (placed) or call_update (a live call redirected).
    kind: str
    #: The provider's id of what was sent (SM..., wamid..., CA..., Message-ID); "" when refused.
    sid: str
    account: str
    to: str
    sender: str
    text: str
    #: HTTP status (SMTP reply code for mail) the sandbox answered.
    status: int
    #: "" when accepted, else the error the sandbox answered.
    error: str = ""
    #: The request's form or JSON fields (credentials left out).
    fields: dict[str, Any] = field(default_factory=dict)
    #: Headers worth checking that carry no secret (Idempotency-Key, X-CC-Timestamp, signatures).
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accepted": self.accepted}


class Outbox:
    """The records, with a wait for the next one (tests wait for a reply to arrive)."""

    def __init__(self) -> None:
        self._records: list[Sent] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()

    async def add(self, **values: Any) -> Sent:
        record = Sent(seq=next(self._seq), at=time.time(), **values)
        async with self._changed:
            self._records.append(record)
            del self._records[:-MAX_RECORDS]
            self._changed.notify_all()
        return record

    def since(self, seq: int = 0) -> list[Sent]:
        return [r for r in self._records if r.seq > seq]

    def clear(self) -> None:
        self._records.clear()

    async def wait_after(self, seq: int, seconds: float) -> list[Sent]:
        """Records after `seq`, waiting up to `seconds` for one to arrive when there is none yet."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.since(seq))), seconds)
        return self.since(seq)
