"""Identifier normalisation: one canonical form per person and channel, clear errors otherwise."""

from __future__ import annotations

import pytest

from identity.domain.customer import Customer
from identity.domain.identifiers import (
    MAX_IDENTIFIER_LENGTH,
    Identifier,
    IdentifierKind,
    InvalidIdentifier,
    normalize,
)

PHONE = IdentifierKind.PHONE
EMAIL = IdentifierKind.EMAIL
WHATSAPP = IdentifierKind.WHATSAPP_ID


@pytest.mark.parametrize(
    "raw",
    [
        "+4915123456789",
        "+49 151 23456789",
        "+49 (151) 234-567.89",
        "  +49 151 2345 6789  ",
        "+49\u00a0151\u00a02345\u00a06789",  # no-break spaces, as pasted from web pages
        "0049 151 23456789",
        "0049-151-2345-6789",
        "(0049) 151 2345 6789",
    ],
)
def test_phone_numbers_with_separators_and_00_prefix_become_e164(raw: str) -> None:
    assert normalize(PHONE, raw) == Identifier(PHONE, "+4915123456789")


@pytest.mark.parametrize("raw", ["4915123456789", "+4915123456789", "49 151 2345 6789"])
def test_whatsapp_ids_become_the_same_phone_identifier(raw: str) -> None:
    whatsapp = normalize(WHATSAPP, raw)
    sms = normalize(PHONE, "+49 151 23456789")
    assert whatsapp == sms
    assert whatsapp.kind is PHONE
    assert whatsapp.index_token() == sms.index_token()


def test_shortest_and_longest_e164_numbers_are_accepted() -> None:
    # Lengths are checked per country by phonenumbers: +1 234567 is too short for North America.
    assert normalize(PHONE, "+290 1234").value == "+2901234"  # 7 digits (St Helena)
    assert normalize(PHONE, "+882 16 1234 567890").value == "+882161234567890"  # 15 digits


@pytest.mark.parametrize(
    "raw",
    [
        " Jane.Doe@Example.COM ",
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
    ],
)
def test_email_addresses_are_trimmed_and_lowercased(raw: str) -> None:
    assert normalize(EMAIL, raw) == Identifier(EMAIL, "jane.doe@example.com")


def test_other_kinds_are_trimmed_but_otherwise_kept() -> None:
    assert normalize(IdentifierKind.CRM_EXTERNAL_ID, "  SF-0042 ") == Identifier(
        IdentifierKind.CRM_EXTERNAL_ID, "SF-0042"
    )
    assert normalize(IdentifierKind.WEBCHAT_VISITOR_ID, "Visitor-AbC").value == "Visitor-AbC"


@pytest.mark.parametrize(
    "raw",
    [
        "01512345678",  # national format: no country code
        "151 2345 6789",
        "+0151234567",  # country codes never start with 0
        "+123456",  # 6 digits: too short
        "+1234567890123456",  # 16 digits: too long
        "+49 151 CALL-ME",
        "++4915123456789",
        "+49/151/23456789",
        "+4\u0669\u0661\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic digits
        "+\uff14\uff19\uff11\uff15\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
    ],
)
def test_invalid_phone_numbers_are_rejected_naming_the_kind(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(PHONE, raw)
    message = str(caught.value)
    assert message.startswith("phone:")
    assert "E.164" in message
    assert repr(raw) in message


def test_invalid_whatsapp_id_names_the_whatsapp_kind() -> None:
    with pytest.raises(InvalidIdentifier, match=r"^whatsapp_id: .*not an E\.164"):
        normalize(WHATSAPP, "not-a-number")


@pytest.mark.parametrize(
    "raw", ["jane", "jane@", "@example.com", "jane@example", "jane doe@example.com", "a@b@example.com"]
)
def test_invalid_email_addresses_are_rejected_naming_the_kind(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(EMAIL, raw)
    assert str(caught.value) == f"email: {raw!r} is not an e-mail address"


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_values_are_rejected_naming_the_kind(kind: IdentifierKind, raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(kind, raw)
    assert str(caught.value) == f"{kind}: value is empty"


@pytest.mark.parametrize("kind", list(IdentifierKind))
def test_oversized_values_are_rejected_naming_the_kind_and_the_limit(kind: IdentifierKind) -> None:
    raw = "a" * (MAX_IDENTIFIER_LENGTH - 12) + "@example.com" + "x"
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(kind, raw)
    message = str(caught.value)
    assert message.startswith(f"{kind}:")
    assert str(MAX_IDENTIFIER_LENGTH) in message
    assert str(len(raw)) in message


def test_values_at_the_length_limit_are_accepted() -> None:
    raw = "a" * (MAX_IDENTIFIER_LENGTH - 12) + "@example.com"
    assert len(raw) == MAX_IDENTIFIER_LENGTH
    assert normalize(EMAIL, raw).value == raw


def test_index_tokens_are_subject_safe_and_never_contain_the_identifier() -> None:
    identifier = normalize(EMAIL, "jane.doe@example.com")
    token = identifier.index_token()
    kind, _, digest = token.partition(".")
    assert kind == "email"
    assert len(digest) == 40 and all(c in "0123456789abcdef" for c in digest)
    assert "jane" not in token
    assert token != normalize(PHONE, "+4915123456789").index_token()


def test_customer_round_trips_through_json_and_merges_identifiers_once() -> None:
    phone = normalize(PHONE, "+4915123456789")
    email = normalize(EMAIL, "jane@example.com")
    customer = Customer("c1", "acme", "acme", "eu", (phone,), {"tier": "gold"}, 12.5)
    merged = customer.with_identifiers([email, phone])
    assert merged.identifiers == (phone, email)
    assert Customer.from_json(merged.to_json()) == merged
