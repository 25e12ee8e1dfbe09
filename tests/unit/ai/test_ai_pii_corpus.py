"""PII redaction over a generated corpus: every e-mail, phone, Luhn-valid card and IBAN is
redacted; Luhn-invalid digit strings are left alone. Also national ids and tenant order numbers."""

from __future__ import annotations

import random
import re

import pytest

from ai.domain.component import ComponentContext, ComponentError, Insights
from ai.domain.pii_component import PiiComponent
from ccpolicy.pii import cpf_valid, dni_valid, find_entities, luhn_valid, redact

RANDOM = random.Random(7)
TEMPLATES = [
    "Hi, please write to {email} or call {phone}, my card {card} was charged twice.",
    "Refund to IBAN {iban} please; contact me at {email}.",
    "Hola, mi tarjeta {card} y mi teléfono {phone}.",
    "Meine IBAN ist {iban}, Telefon {phone}, Mail {email}.",
    "card: {card}. thanks!",
]


#: North American area codes in service (a random three digits is often none, and not a phone).
AREA_CODES = ["212", "305", "312", "415", "617", "713", "206", "404"]


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(str(RANDOM.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def luhn_broken(valid: str) -> str:
    last = (int(valid[-1]) + RANDOM.randrange(1, 10)) % 10
    return valid[:-1] + str(last)


def iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


def digits(count: int) -> int:
    """A number of `count` digits not starting with 0 or 1 (as North American area codes)."""
    return RANDOM.randrange(2 * 10 ** (count - 1), 10**count)


def grouped(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def generate(count: int) -> list[tuple[str, dict[str, str]]]:
    corpus = []
    for index in range(count):
        values = {
            "email": f"user{index}.{RANDOM.choice(['a', 'b', 'c'])}@example{index % 7}.com",
            "phone": RANDOM.choice(
                [
                    # London numbers in service begin 7 after the 20.
                    f"+44 20 7{RANDOM.randrange(100, 999)} {RANDOM.randrange(1000, 9999)}",
                    f"+49 151 {RANDOM.randrange(10_000_000, 99_999_999)}",
                    f"({RANDOM.choice(AREA_CODES)}) {digits(3)}-{digits(4)}",
                    f"+1-{RANDOM.choice(AREA_CODES)}-{digits(3)}-{digits(4)}",
                ]
            ),
            "card": RANDOM.choice([lambda c: c, grouped])(
                luhn_complete(RANDOM.choice(["4", "51", "37"]), RANDOM.choice([15, 16]))
            ),
            "iban": RANDOM.choice([lambda c: c, grouped])(
                iban(
                    "DE",  # 18 digits is the German BBAN; other countries have other formats
                    "".join(str(RANDOM.randrange(10)) for _ in range(18)),
                )
            ),
        }
        template = TEMPLATES[index % len(TEMPLATES)]
        corpus.append((template.format(**values), values))
    return corpus


def test_every_email_phone_card_and_iban_of_a_generated_corpus_is_redacted() -> None:
    for text, values in generate(400):
        redacted, _ = redact(text)
        for kind, value in values.items():
            if value in text:
                assert value not in redacted, (kind, value, redacted)
        assert not re.search(r"\d{4}", redacted.replace("[", "").replace("]", "")), redacted


def test_luhn_invalid_digit_strings_are_left_alone() -> None:
    for _ in range(300):
        broken = luhn_broken(luhn_complete(RANDOM.choice(["4", "51", "37"]), 16))
        assert not luhn_valid(broken)
        for shown in (broken, grouped(broken)):
            text = f"reference {shown} attached"
            assert redact(text)[0] == text


@pytest.mark.parametrize(
    "national_id", ["123-45-6789", "12345678Z", "529.982.247-25", "AB 12 34 56 C", "AB123456C"]
)
def test_national_ids_of_supported_regions_are_redacted(national_id: str) -> None:
    assert redact(f"my id is {national_id} ok")[0] == "my id is [NATIONAL_ID] ok"


@pytest.mark.parametrize("candidate", ["12345678A", "529.982.247-26", "666-12-3456"])
def test_national_id_lookalikes_failing_their_check_are_kept(candidate: str) -> None:
    assert find_entities(f"code {candidate} here") == []


def test_checksums_of_national_ids() -> None:
    assert dni_valid("12345678Z") and not dni_valid("12345678A")
    assert cpf_valid("529.982.247-25") and not cpf_valid("111.111.111-11")


def test_tenant_order_numbers_are_found_by_the_tenant_pattern() -> None:
    component = PiiComponent({"orderNumberPattern": r"\bORD-\d{6}\b"}, ComponentContext())
    insights = Insights(tenant_id="acme", text="order ORD-123456 and mail a@b.io")
    component.analyse(insights)
    assert insights.redacted_text == "order [ORDER_NUMBER] and mail [EMAIL]"
    plain = Insights(tenant_id="acme", text="order ORD-123456")
    PiiComponent({}, ComponentContext()).analyse(plain)
    assert plain.redacted_text == "order ORD-123456"


@pytest.mark.parametrize(
    ("pattern", "problem"), [("ORD-(", "not a valid regular expression"), ("x*", "empty")]
)
def test_a_bad_order_pattern_is_refused_naming_the_setting(pattern: str, problem: str) -> None:
    with pytest.raises(ComponentError, match="orderNumberPattern") as caught:
        PiiComponent({"orderNumberPattern": pattern}, ComponentContext())
    assert problem in str(caught.value)


def test_a_megabyte_of_text_and_binary_garbage_are_redacted_without_error() -> None:
    big = ("lorem ipsum 4111 1111 1111 1111 " * 40_000)[:1_000_000]
    redacted, entities = redact(big)
    assert "4111 1111 1111 1111" not in redacted and entities
    garbage = bytes(range(256)).decode("latin-1") * 10
    redacted, _ = redact(garbage)
    assert redacted.count("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 10
