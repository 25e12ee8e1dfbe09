"""Channel identifiers in canonical form, so the same person matches on every channel.

Phone numbers must be E.164 (`+` and 7-15 digits, separators removed); WhatsApp ids are the
phone digits WhatsApp sends, stored as E.164 too, so a WhatsApp sender and an SMS sender
with the same number are one identifier space; e-mail addresses are trimmed and lowercased.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_IDENTIFIER_LENGTH = 256
_SEPARATORS = re.compile(r"[\s().-]")
# ASCII: `\d` alone also takes other scripts' digits, which are not E.164 and would never match.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentifierKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WHATSAPP_ID = "whatsapp_id"
    WEBCHAT_VISITOR_ID = "webchat_visitor_id"
    EMAIL_THREAD = "email_thread"
    CRM_EXTERNAL_ID = "crm_external_id"


class InvalidIdentifier(ValueError):
    """An identifier cannot be normalised; the message names the kind and the problem."""


@dataclass(frozen=True)
class Identifier:
    kind: IdentifierKind
    value: str

    def index_token(self) -> str:
        """A subject-safe token for KV keys: the identifier itself never appears in a key."""
        digest = hashlib.sha256(f"{self.kind}:{self.value}".encode()).hexdigest()
        return f"{self.kind}.{digest[:40]}"


def _phone(raw: str, kind: IdentifierKind) -> str:
    compact = _SEPARATORS.sub("", raw)
    if kind is IdentifierKind.WHATSAPP_ID and not compact.startswith("+"):
        compact = "+" + compact
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.match(compact):
        raise InvalidIdentifier(f"{kind}: {raw!r} is not an E.164 phone number (+ and 7-15 digits)")
    return compact


def normalize(kind: IdentifierKind, raw: str) -> Identifier:
    value = raw.strip()
    if not value:
        raise InvalidIdentifier(f"{kind}: value is empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            f"{kind}: value has {len(value)} characters; the maximum is {MAX_IDENTIFIER_LENGTH}"
        )
    if kind in (IdentifierKind.PHONE, IdentifierKind.WHATSAPP_ID):
        return Identifier(IdentifierKind.PHONE, _phone(value, kind))
    if kind is IdentifierKind.EMAIL:
        lowered = value.lower()
        if not _EMAIL.match(lowered):
            raise InvalidIdentifier(f"email: {raw!r} is not an e-mail address")
        return Identifier(kind, lowered)
    return Identifier(kind, value)
