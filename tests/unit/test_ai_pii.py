"""PII redaction: what is personal data is found with exact offsets; what only looks like it is kept."""

from __future__ import annotations

import pytest

from ccpolicy.pii import Entity, find_entities, iban_valid, luhn_valid, redact


def found(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) of every entity, checking that offsets point at that text."""
    return [(entity.kind, text[entity.start : entity.end]) for entity in find_entities(text)]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("79927398713", True),  # the textbook Luhn example
        ("79927398710", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
    ],
)
def test_luhn_check(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("candidate", "valid"),
    [
        ("DE89 3704 0044 0532 0130 00", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("NL91ABNA0417164300", True),
        ("FR1420041010050500013M02606", True),
        ("DE89 3704 0044 0532 0130 01", False),
        ("GB82 WEST 1234 5698 7654 33", False),
        ("DE89 3704", False),  # too short to be an IBAN at all
    ],
)
def test_iban_mod97_check(candidate: str, valid: bool) -> None:
    assert iban_valid(candidate) is valid


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "3782 822463 10005",
        "5555555555554444",
    ],
)
def test_luhn_valid_card_numbers_are_redacted(card: str) -> None:
    text = f"my card is {card}, thanks"
    assert found(text) == [("card_number", card)]
    assert redact(text)[0] == "my card is [CARD_NUMBER], thanks"


@pytest.mark.parametrize("digits", ["4111 1111 1111 1112", "4111111111111112", "1234 5678 9012 3456"])
def test_digit_runs_failing_luhn_are_not_cards(digits: str) -> None:
    assert all(kind != "card_number" for kind, _ in found(f"reference {digits} attached"))


@pytest.mark.parametrize(
    "iban", ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32"]
)
def test_valid_ibans_are_redacted(iban: str) -> None:
    text = f"please refund to {iban} today"
    assert found(text) == [("iban", iban)]
    assert redact(text)[0] == "please refund to [IBAN] today"


@pytest.mark.parametrize(
    "candidate", ["DE89 3704 0044 0532 0130 01", "DE89370400440532013001", "GB82 WEST 1234 5698 7654 33"]
)
def test_ibans_failing_mod97_are_not_ibans(candidate: str) -> None:
    assert all(kind != "iban" for kind, _ in found(f"refund to {candidate} today"))


@pytest.mark.parametrize(
    "address", ["jane@example.com", "Jane.Doe+tag@example.co.uk", "j_o%e-1@mail-server.example.org"]
)
def test_email_addresses_are_redacted_without_trailing_punctuation(address: str) -> None:
    text = f"Write to {address}."
    assert found(text) == [("email", address)]
    assert redact(text)[0] == "Write to [EMAIL]."


@pytest.mark.parametrize(
    "phone",
    [
        "+49 151 23456789",  # international
        "+44 20 7946 0958",
        "+1 (212) 555-0123",
        "+1-800-555-0199",
        "0049 30 1234567",  # international with 00
        "030 1234567",  # national, trunk 0
        "(030) 123 45 67",
        "0151-23456789",
        "(212) 555-0123",  # North American 3-3-4
        "212-555-0123",
        "212.555.0123",
        "212 555 0123",
    ],
)
def test_phone_numbers_are_redacted(phone: str) -> None:
    text = f"call me on {phone} after six"
    assert found(text) == [("phone", phone)]
    assert redact(text)[0] == "call me on [PHONE] after six"


@pytest.mark.parametrize(
    "text",
    [
        "order 123456789 has shipped",
        "Order #A-2024-00017 is late",
        "invoice INV-2024-000123",
        "your ticket 4711-0815",
        "tracking 1Z999AA10123456784",
        "booked for 2024-03-15",
        "between 2024-03-15 and 2024-04-01",
        "at 2024-03-15T10:00:00+01:00",
        "at 2024-03-15 10:30:45",
        "postcode 10115 Berlin, 3 items at 34.50",
        "version 1.2.3.4 on host 192.168.100.200",
    ],
)
def test_order_numbers_dates_and_other_numbers_are_kept(text: str) -> None:
    assert find_entities(text) == []
    assert redact(text) == (text, [])


def test_mixed_text_offsets_point_at_the_original_and_redaction_replaces_each_span() -> None:
    text = (
        "Hi, I'm jane@example.com (order 123456789, 2024-03-15). "
        "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, call +44 20 7946 0958."
    )
    entities = find_entities(text)
    assert [(e.kind, text[e.start : e.end]) for e in entities] == [
        ("email", "jane@example.com"),
        ("card_number", "4111 1111 1111 1111"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("phone", "+44 20 7946 0958"),
    ]
    assert entities == sorted(entities)
    redacted, reported = redact(text)
    assert reported == entities
    assert redacted == (
        "Hi, I'm [EMAIL] (order 123456789, 2024-03-15). Card [CARD_NUMBER], IBAN [IBAN], call [PHONE]."
    )


def test_offsets_count_characters_not_bytes() -> None:
    text = "☎ 😀 +1 (212) 555-0123 ✓ ok"
    entities = find_entities(text)
    assert entities == [Entity(4, 21, "phone")]
    assert text[entities[0].start : entities[0].end] == "+1 (212) 555-0123"


def test_text_without_personal_data_is_returned_unchanged() -> None:
    assert redact("") == ("", [])
    assert redact("Thanks, that solved it!") == ("Thanks, that solved it!", [])
