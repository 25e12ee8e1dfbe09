"""PII across countries and scripts: phone numbers of eighteen countries, written nationally and
internationally, inside Japanese, Chinese, Korean, Arabic and Latin text, and IBANs of ten
countries with valid and broken checksums. Every valid one is redacted; every invalid one is
left exactly as written (no part of it taken for a phone number either)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from stdnum import iban as stdnum_iban

from ai.domain.component import ComponentContext, ComponentError, Insights
from ai.domain.pii import find_entities, redact
from ai.domain.pii_component import PiiComponent

RANDOM = random.Random(18)
COUNTRIES = [
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "BR",
    "MX",
    "JP",
    "CN",
    "KR",
    "IN",
    "SA",
    "AE",
    "EG",
    "NL",
    "PT",
    "AU",
]
FORMATS = [
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
]
CONTEXTS = [
    "電話番号は{}です。",  # no space between the number and the Japanese
    "请拨打{}联系我",
    "전화번호 {}로 연락 주세요",
    "رقم هاتفي {} شكرا",
    "اتصل بي على{}",
    "Llámame al {}, gracias.",
    "({}) ok",
]
#: Basic bank account number shapes: n digits, a letters, c letters or digits.
BBAN_SHAPES = {
    "DE": "18n",
    "ES": "20n",
    "PT": "21n",
    "BE": "12n",
    "AT": "16n",
    "PL": "24n",
    "NL": "4a10n",
    "GB": "4a14n",
    "SA": "2n18c",
    "FR": "10n11c2n",
}


def phones_of(country: str) -> list[str]:
    written = []
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        number = phonenumbers.example_number_for_type(country, kind)
        assert number is not None and phonenumbers.is_valid_number(number), (country, kind)
        written += [phonenumbers.format_number(number, shape) for shape in FORMATS]
    return sorted(set(written))


def random_bban(shape: str) -> str:
    out = []
    for count, kind in ((int(part[:-1]), part[-1]) for part in _split(shape)):
        alphabet = {
            "n": "0123456789",
            "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        }
        out.append("".join(RANDOM.choice(alphabet[kind]) for _ in range(count)))
    return "".join(out)


def _split(shape: str) -> list[str]:
    parts, current = [], ""
    for char in shape:
        current += char
        if char.isalpha():
            parts.append(current)
            current = ""
    return parts


def valid_iban(country: str) -> str:
    for _ in range(1000):  # some countries add a national check inside the BBAN
        bban = random_bban(BBAN_SHAPES[country])
        candidate = country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban
        if stdnum_iban.is_valid(candidate):
            return candidate
    raise AssertionError(f"no valid {country} IBAN generated")


def broken(iban: str) -> str:
    check = (int(iban[2:4]) + RANDOM.randrange(1, 90)) % 97 + 2
    candidate = f"{iban[:2]}{check:02d}{iban[4:]}"
    return candidate if not stdnum_iban.is_valid(candidate) else broken(iban)


def grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


@pytest.mark.parametrize("country", COUNTRIES)
def test_phones_of_each_country_are_redacted_in_every_script_and_format(country: str) -> None:
    component = PiiComponent({"phoneRegions": country}, ComponentContext())
    for phone in phones_of(country):
        for context in CONTEXTS:
            text = context.format(phone)
            insights = Insights(tenant_id="t", text=text)
            component.analyse(insights)
            assert insights.redacted_text == context.format("[PHONE]"), (country, phone, text)
            entity = insights.entities[0]
            assert text[entity.start : entity.end] == phone


def test_a_tenant_with_many_countries_finds_each_ones_numbers_in_one_pass() -> None:
    component = PiiComponent({"phoneRegions": ",".join(COUNTRIES)}, ComponentContext())
    corpus = [(RANDOM.choice(CONTEXTS), phone) for country in COUNTRIES for phone in phones_of(country)]
    assert len(corpus) >= 12 * 4
    for context, phone in corpus:
        insights = Insights(tenant_id="t", text=context.format(phone))
        component.analyse(insights)
        assert insights.redacted_text == context.format("[PHONE]"), phone


def test_national_numbers_are_read_for_the_messages_language_too() -> None:
    component = PiiComponent({}, ComponentContext())
    for language, text, phone in [
        ("es", "Llámame al 612 345 678 por favor", "612 345 678"),
        ("pt", "meu número é (11) 91234-5678.", "(11) 91234-5678"),
        ("ja", "電話090-1234-5678です", "090-1234-5678"),
    ]:
        insights = Insights(tenant_id="t", text=text, language=language)
        component.analyse(insights)
        assert insights.redacted_text == text.replace(phone, "[PHONE]")


def test_valid_ibans_are_redacted_and_broken_ones_left_exactly_as_written() -> None:
    everyone = PiiComponent({"phoneRegions": ",".join(COUNTRIES)}, ComponentContext())
    checked = 0
    for country in BBAN_SHAPES:
        for _ in range(5):
            good = valid_iban(country)
            bad = broken(good)
            for shown_good, shown_bad in ((good, bad), (grouped(good), grouped(bad))):
                for context in ("口座は{}です", "الحساب {} شكرا", "IBAN: {}."):
                    text = context.format(shown_good)
                    assert redact(text)[0] == context.format("[IBAN]"), text
                    text = context.format(shown_bad)
                    insights = Insights(tenant_id="t", text=text)
                    everyone.analyse(insights)
                    assert insights.redacted_text == text and insights.entities == [], text
                    checked += 1
    assert checked == len(BBAN_SHAPES) * 5 * 2 * 3


def test_valid_ibans_next_to_a_following_word_are_cut_where_the_checksum_holds() -> None:
    good = grouped(valid_iban("DE"))
    assert [(e.kind) for e in find_entities(f"IBAN {good} OK")] == ["iban"]
    assert redact(f"IBAN {good} OK")[0] == "IBAN [IBAN] OK"


def test_unknown_phone_regions_are_refused_naming_the_setting() -> None:
    with pytest.raises(ComponentError, match="phoneRegions") as caught:
        PiiComponent({"phoneRegions": "ES,XX"}, ComponentContext())
    assert "XX" in str(caught.value)
