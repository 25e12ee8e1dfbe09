"""Channel identifiers in canonical form, so the same person matches on every channel.

Phone numbers are parsed and formatted to E.164 by `phonenumbers` (Google's libphonenumber
metadata): separators are dropped, a `00` international prefix becomes `+`, and the number
must have a possible length for its country code. WhatsApp ids are the phone digits WhatsApp
sends, stored as the same phone identifier, so a WhatsApp sender and an SMS sender with the
same number are one identifier space. E-mail addresses are trimmed and lowercased.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

MAX_IDENTIFIER_LENGTH = 256
_SEPARATORS = re.compile(r"[\s().-]")
# ASCII only: phonenumbers also reads other scripts' digits, which no channel sends as E.164.
_E164_SHAPE = re.compile(r"^\+[1-9]\d{1,14}$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WHY_IMPOSSIBLE = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short for its country",
    phonenumbers.ValidationResult.TOO_LONG: "too long for its country",
    phonenumbers.ValidationResult.INVALID_LENGTH: "a length its country does not use",
}


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
    if kind is IdentifierKind.WHATSAPP_ID and not compact.startswith(("+", "00")):
        compact = "+" + compact
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164_SHAPE.match(compact):
        raise InvalidIdentifier(
            f"{kind}: {raw!r} is not an E.164 phone number (+, country code and up to 15 digits)"
        )
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException as error:
        why = (
            "unknown country code"
            if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            else str(error.args[0] if error.args else error)
        )
        raise InvalidIdentifier(f"{kind}: {raw!r} is not an E.164 phone number ({why})") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        why = _WHY_IMPOSSIBLE.get(reason, "not a possible number")
        raise InvalidIdentifier(
            f"{kind}: {raw!r} is not an E.164 phone number ({why}: +{number.country_code})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
