"""Find personal data in text and produce a redacted copy for stores and logs.

Card numbers count only when the digits pass the Luhn check, and IBANs only when their
mod-97 check holds, so order numbers and dates are not blanked by mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# Phone numbers: international (+...), national with a trunk 0, or North American 3-3-4.
# Bare digit runs are left alone: they are far more often order numbers than phones.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{5,18}\d|\(?0\d[\d ().-]{5,16}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w-])"
)


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


def find_entities(text: str) -> list[Entity]:
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str) -> None:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return  # an earlier, more specific match already covers this span
        taken.append((start, end))
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
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 7 <= len(digits) <= 15:
            add(match.start(), match.end(), "phone")
    return sorted(found)


def redact(text: str) -> tuple[str, list[Entity]]:
    entities = find_entities(text)
    pieces: list[str] = []
    cursor = 0
    for entity in entities:
        pieces.append(text[cursor : entity.start])
        pieces.append(f"[{entity.kind.upper()}]")
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces), entities
