"""Consent: a customer's grants and withdrawals per purpose, each a record never changed again.

What stands now for a purpose is its latest record; the whole list is the demonstrable history
(who recorded what, when, on which channel, answering which prompt or policy version).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import orjson

from ccpolicy.vocabulary import Purpose, purpose

_RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TEXT_MAX = 200


class InvalidConsent(ValueError):
    """A consent request with a missing or malformed field; the text names the field."""


@dataclass(frozen=True)
class ConsentRecord:
    record_id: str
    customer_id: str
    purpose: str
    granted: bool
    #: ChannelKind number (0: through the API).
    channel: int
    at: float
    policy_version: str
    source: str
    recorded_by: str
    contact_id: str = ""

    def key_token(self) -> str:
        """Subject-safe token of the record id."""
        return hashlib.sha256(self.record_id.encode()).hexdigest()[:32]

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> ConsentRecord:
        return cls(**orjson.loads(data))


def check_purpose(name: str) -> Purpose:
    try:
        return purpose(name)
    except ValueError as error:
        raise InvalidConsent(str(error)) from None


def check_text(value: str, field: str, *, required: bool = False) -> str:
    if required and not value.strip():
        raise InvalidConsent(f"{field}: required")
    if len(value) > _TEXT_MAX:
        raise InvalidConsent(f"{field}: at most {_TEXT_MAX} characters")
    return value


def check_record_id(value: str, field: str = "record_id") -> str:
    """An optional id (record or contact): it ends up in a NATS subject, so one plain token."""
    if value and not _RECORD_ID.match(value):
        raise InvalidConsent(f"{field}: 1-64 letters, digits, '-' or '_'")
    return value


def current(records: Iterable[ConsentRecord]) -> dict[str, bool]:
    """Purpose -> whether consent stands: the latest record of each purpose (records in the order
    they were written)."""
    state: dict[str, bool] = {}
    for record in records:
        state[record.purpose] = record.granted
    return state


def standing_of(summary: bytes | None) -> dict[str, bool]:
    """Purpose -> granted, from a summary (`standing_after`'s value)."""
    if not summary:
        return {}
    return {purpose: bool(entry[0]) for purpose, entry in orjson.loads(summary).items()}


def standing_after(summary: bytes | None, record: ConsentRecord) -> bytes:
    """The summary with `record` taken in, unless a later record of its purpose is there already
    (summaries are updated after the record is written, so two updates may arrive out of order).
    Each purpose keeps [granted, at, record_id]; ties in time go to the greater record id."""
    current_state = orjson.loads(summary) if summary else {}
    known = current_state.get(record.purpose)
    if known is not None and (known[1], known[2]) >= (record.at, record.record_id):
        return summary or b""
    current_state[record.purpose] = [record.granted, record.at, record.record_id]
    return orjson.dumps(current_state, option=orjson.OPT_SORT_KEYS)
