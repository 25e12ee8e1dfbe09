"""Find personal data in text and produce a redacted copy: for the AI service's stores and logs,
and for events that leave their region where a redaction rule says so (one redactor for both).

The formats are known by the libraries that specialise in them: phone numbers are found by
`phonenumbers`' matcher (libphonenumber's metadata) for the countries the caller names, and
IBANs, card numbers and national ids are validated by `python-stdnum`. So a digit run counts
only when it is a valid number of its kind: an IBAN with a bad checksum, an order number or a
date is left alone. Boundaries are explicit ASCII ones, not `\\b`: CJK and Arabic letters are
word characters to `re`, and a number written against them ("電話090-1234-5678です") must
still be found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.br import cpf
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.us import ssn

#: Countries whose national-format numbers are looked for when the caller names none.
#: Numbers written internationally (+49 ..., 0049 ...) are found whatever the countries.
DEFAULT_REGIONS = ("US", "GB", "DE")

# Not preceded or followed by an ASCII letter or digit (any other script counts as a boundary).
_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(_B + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}" + _E)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# How card numbers are written: contiguous, in fours, or Amex's 4-6-5. A digit run of this shape
# that fails the Luhn check is a reference number, not a phone number either.
_CARD_SHAPE = re.compile(r"\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?|\d{4}[ -]\d{6}[ -]\d{5}")
_UK_NINO = re.compile(_B + r"(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _E)


@dataclass(frozen=True, order=True)
class Entity:
    start: int
    end: int
    kind: str


def luhn_valid(digits: str) -> bool:
    return bool(luhn.is_valid(digits))


def iban_valid(candidate: str) -> bool:
    return bool(stdnum_iban.is_valid(candidate))


def dni_valid(candidate: str) -> bool:
    return bool(dni.is_valid(candidate))


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit of any script (Devanagari, Arabic-Indic, full-width) as
    its ASCII digit: ids are often typed in the script of the message, checksums need ASCII."""
    return "".join(str(unicodedata.digit(char)) if char.isdecimal() else char for char in text)


def aadhaar_valid(candidate: str) -> bool:
    return bool(aadhaar.is_valid(ascii_digits(candidate)))


def cpf_valid(candidate: str) -> bool:
    digits = [c for c in candidate if c.isdigit()]
    # 111.111.111-11 and the like pass the arithmetic but are never issued.
    return len(set(digits)) > 1 and bool(cpf.is_valid(candidate))


#: National ids: the shape to look for and the library check it must pass.
_NATIONAL_IDS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), ssn.is_valid),
    (re.compile(_B + r"\d{8}-?[A-Z]" + _E), dni.is_valid),
    (re.compile(_B + r"[XYZ]-?\d{7}-?[A-Z]" + _E), nie.is_valid),
    (re.compile(r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])"), cpf_valid),
    (re.compile(_B + r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]" + _E), codicefiscale.is_valid),
    (re.compile(_B + r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}" + _E), nir.is_valid),
    (_UK_NINO, lambda candidate: True),  # the format has no check digit; the letters narrow it
)


#: National ids whose check is weak (Aadhaar's one check digit passes a tenth of all 12-digit
#: runs; PAN has none beyond its letters): looked for only when the caller names their country.
_REGIONAL_IDS: dict[str, tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...]] = {
    # Aadhaar: 12 digits, often in fours, Verhoeff check digit, never starting with 0 or 1 (digits
    # of any script; after a "+" it is a phone number); PAN: five letters, four digits, a letter,
    # the fourth saying who holds it.
    "IN": (
        (re.compile(r"(?<![A-Za-z\d+\uff0b-])\d{4}[ -]?\d{4}[ -]?\d{4}(?![A-Za-z\d-])"), aadhaar_valid),
        (re.compile(_B + r"[A-Z]{5}\d{4}[A-Z]" + _E), pan.is_valid),
    ),
}
#: How Aadhaar numbers are written (4-4-4): such a run failing the check is a mistyped id, not a
#: phone number. A contiguous run may well be one ("911525506534").
_AADHAAR_GROUPED = re.compile(r"(?<![A-Za-z\d+\uff0b-])\d{4}([ -])\d{4}\1\d{4}(?![A-Za-z\d-])")


def _iban_within(text: str, start: int, end: int) -> int | None:
    """End of the valid IBAN starting at `start`, trying shorter spans: the pattern may have
    taken a following capitalised word or number ("DE89 ... 00 OK")."""
    while end - start >= 15:
        if iban_valid(text[start:end]):
            return end
        space = text.rfind(" ", start, end)
        end = space if space > start else end - 1
    return None


_JOINERS = "-/#_."
_CONTEXT = 3
#: Where a phone number may be: a digit run with the separators numbers are written with.
_PHONE_CANDIDATE = re.compile(r"[+(\uff0b\uff08]?\d[\d \u00a0().\-/\u30fc\uff08\uff09\uff0d]{4,24}\d")


def _joined(text: str, start: int, end: int) -> bool:
    """Whether the span is the tail or head of a longer code ("INV-2024-000123", "2024-000123-B")."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] in _JOINERS and before[0].isascii() and before[0].isalnum()) or (
        len(after) == 2 and after[0] in _JOINERS and after[1].isascii() and after[1].isalnum()
    )


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without an opening bracket that the number does not close ("(+1 201-555-0123)")."""
    while (
        start < end
        and text[start] in "(\uff08"
        and text.count(")", start, end) + text.count("\uff09", start, end)
        < text.count("(", start, end) + text.count("\uff08", start, end)
    ):
        start += 1
    return start, end


def phone_spans(text: str, regions: Iterable[str]) -> list[tuple[int, int]]:
    """Start and end of every valid phone number in `text`, read as national numbers of
    `regions` (ISO 3166 alpha-2) or international ones."""
    return _phone_spans_in(text, 0, len(text), regions)


def _phone_spans_in(text: str, start: int, end: int, regions: Iterable[str]) -> list[tuple[int, int]]:
    # A few characters either side: the matcher looks at them to judge the number's boundaries.
    begin = max(0, start - _CONTEXT)
    window = text[begin : end + _CONTEXT]
    spans: set[tuple[int, int]] = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
            span = _balanced(text, begin + match.start, begin + match.end)
            if not _joined(text, *span):
                spans.add(span)
    return sorted(spans, key=lambda span: (span[0], -span[1]))


def find_entities(
    text: str,
    order_patterns: Sequence[re.Pattern[str]] = (),
    regions: Sequence[str] = DEFAULT_REGIONS,
    id_regions: Sequence[str] | None = None,
) -> list[Entity]:
    """Every piece of personal data in `text`, sorted by position, without overlaps.

    `order_patterns` are the tenant's order-number formats (found as kind `order_number`);
    `regions` the countries whose national phone formats are looked for; `id_regions` (default:
    `regions`) those whose weakly checked national ids are.
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
        end = _iban_within(text, match.start(), match.end())
        if end is not None:
            add(match.start(), end, "iban")
        elif taken.find(1, match.start(), match.end()) == -1:
            # An IBAN with a bad checksum is no personal data, and no phone number inside either.
            block(match.start(), match.end())
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            add(match.start(), match.end(), "card_number")
        elif _CARD_SHAPE.fullmatch(match.group()) and text[max(0, match.start() - 1) : match.start()] != "+":
            block(match.start(), match.end())
    id_regions = regions if id_regions is None else id_regions
    regional = [check for region in dict.fromkeys(id_regions) for check in _REGIONAL_IDS.get(region, ())]
    for pattern, valid in (*_NATIONAL_IDS, *regional):
        for match in pattern.finditer(text):
            if valid(match.group()):
                add(match.start(), match.end(), "national_id")
    if "IN" in id_regions:
        for match in _AADHAAR_GROUPED.finditer(text):
            if taken.find(1, match.start(), match.end()) == -1:
                block(match.start(), match.end())
    for pattern in order_patterns:
        for match in pattern.finditer(text):
            if match.end() > match.start():
                add(match.start(), match.end(), "order_number")
    # The matcher is slow on long texts: it only sees the digit runs no earlier match took.
    for candidate in _PHONE_CANDIDATE.finditer(text):
        if taken.find(0, candidate.start(), candidate.end()) == -1:
            continue
        for start, end in _phone_spans_in(text, candidate.start(), candidate.end(), regions):
            add(start, end, "phone")
    return sorted(found)


def redact(
    text: str,
    order_patterns: Sequence[re.Pattern[str]] = (),
    regions: Sequence[str] = DEFAULT_REGIONS,
    id_regions: Sequence[str] | None = None,
) -> tuple[str, list[Entity]]:
    entities = find_entities(text, order_patterns, regions, id_regions)
    pieces: list[str] = []
    cursor = 0
    for entity in entities:
        pieces.append(text[cursor : entity.start])
        pieces.append(f"[{entity.kind.upper()}]")
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces), entities
