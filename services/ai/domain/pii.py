"""Find personal data in text and produce a redacted copy for stores and logs.

Card numbers count only when the digits pass the Luhn check, and IBANs only when their
mod-97 check holds, so order numbers and dates are not blanked by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# Phone numbers: international (+...), national with a trunk 0, or North American 3-3-4.
# Bare digit runs are left alone: they are far more often order numbers than phones.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{5,18}\d|\(?0\d[\d ().-]{5,16}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w-])"
)


# National ids of the supported regions, each with its checksum where the format has one,
# so that ordinary numbers are not taken for them.
_US_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_ES_DNI = re.compile(r"(?<![\w-])\d{8}-?[A-Z](?![\w-])")
_BR_CPF = re.compile(r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])")
_UK_NINO = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# How card numbers are written: contiguous, in fours, or Amex's 4-6-5. A digit run of this shape
# that fails the Luhn check is a reference number, not a phone number either.
_CARD_SHAPE = re.compile(r"\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?|\d{4}[ -]\d{6}[ -]\d{5}")


def dni_valid(candidate: str) -> bool:
    digits, letter = candidate[:8], candidate[-1]
    return _DNI_LETTERS[int(digits) % 23] == letter


def cpf_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits[:length], range(length + 1, 1, -1), strict=True))
        if (total * 10) % 11 % 10 != digits[length]:
            return False
    return True


@dataclass(frozen=True, order=True)
class Entity:
    start: int
    end: int
    kind: str


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def find_entities(text: str, order_patterns: Sequence[re.Pattern[str]] = ()) -> list[Entity]:
    """Every piece of personal data in `text`, sorted by position, without overlaps.

    `order_patterns` are the tenant's order-number formats (found as kind `order_number`).
    """
    found: list[Entity] = []
    # One byte per character: 1 where an earlier match lies. Linear in the text, even at 1 MB.
    taken = bytearray(len(text))

    def block(start: int, end: int) -> None:
        taken[start:end] = b"\x01" * (end - start)

    def add(start: int, end: int, kind: str) -> None:
        if taken.find(1, start, end) != -1:
            return  # an earlier, more specific match already covers this span
        block(start, end)
        found.append(Entity(start, end, kind))

    for match in _EMAIL.finditer(text):
        add(match.start(), match.end(), "email")
    for match in _IBAN.finditer(text):
        if iban_valid(match.group()):
            add(match.start(), match.end(), "iban")
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            add(match.start(), match.end(), "card_number")
        elif _CARD_SHAPE.fullmatch(match.group()) and text[max(0, match.start() - 1) : match.start()] != "+":
            block(match.start(), match.end())
    for pattern in (_US_SSN, _BR_CPF, _UK_NINO):
        for match in pattern.finditer(text):
            if pattern is not _BR_CPF or cpf_valid(match.group()):
                add(match.start(), match.end(), "national_id")
    for match in _ES_DNI.finditer(text):
        if dni_valid(match.group()):
            add(match.start(), match.end(), "national_id")
    for pattern in order_patterns:
        for match in pattern.finditer(text):
            if match.end() > match.start():
                add(match.start(), match.end(), "order_number")
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 7 <= len(digits) <= 15:
            add(match.start(), match.end(), "phone")
    return sorted(found)


def redact(text: str, order_patterns: Sequence[re.Pattern[str]] = ()) -> tuple[str, list[Entity]]:
    entities = find_entities(text, order_patterns)
    pieces: list[str] = []
    cursor = 0
    for entity in entities:
        pieces.append(text[cursor : entity.start])
        pieces.append(f"[{entity.kind.upper()}]")
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces), entities
