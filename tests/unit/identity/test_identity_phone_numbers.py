"""Phone numbers through `phonenumbers`: canonical E.164 per country, impossible numbers refused."""

from __future__ import annotations

import pytest

from identity.domain.identifiers import Identifier, IdentifierKind, InvalidIdentifier, normalize

PHONE = IdentifierKind.PHONE


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("+44 (0)20 7946 0958", "+442079460958"),  # the UK's "(0)" trunk prefix is dropped
        ("+1 (202) 555-0123", "+12025550123"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+39 06 1234 5678", "+390612345678"),  # Italy keeps its leading zero
        ("+290 1234", "+2901234"),  # St Helena: 4-digit national numbers
        ("+882 16 1234 567890", "+882161234567890"),  # international network, 15 digits
    ],
)
def test_numbers_become_the_canonical_e164_form_of_their_country(raw: str, canonical: str) -> None:
    assert normalize(PHONE, raw) == Identifier(PHONE, canonical)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("+1 202 555", "too short"),  # a US number has 10 digits
        ("+1 202 555 01234", "too long"),
        ("+49 151 2345 6789 0123", "up to 15 digits"),
        ("+999 1234 5678", "unknown country code"),
    ],
)
def test_numbers_impossible_for_their_country_are_refused_saying_why(raw: str, why: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(PHONE, raw)
    message = str(caught.value)
    assert message.startswith("phone:") and "E.164" in message and repr(raw) in message
    assert why in message


def test_whatsapp_ids_with_a_00_prefix_are_the_same_phone() -> None:
    assert normalize(IdentifierKind.WHATSAPP_ID, "004915123456789") == normalize(PHONE, "+4915123456789")
