"""PII across countries and scripts: phone numbers of eighteen countries, written nationally and
internationally, inside Japanese, Chinese, Korean, Arabic, Hindi (Devanagari) and Latin text,
IBANs of ten countries and Indian national ids (Aadhaar, PAN) with valid and broken checksums.
Every valid one is redacted; every invalid one is left exactly as written (no part of it taken
for a phone number either)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from stdnum import iban as stdnum_iban
from stdnum import verhoeff

from ai.domain.component import ComponentContext, ComponentError, Insights
from ai.domain.pii_component import PiiComponent
from ccpolicy.pii import find_entities, redact

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
    "मेरा नंबर {} है",
    "कृपया{}पर कॉल करें",
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


DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def aadhaar_numbers(count: int) -> list[tuple[str, str]]:
    """(valid, same number with a wrong check digit), 12 digits never starting with 0 or 1."""
    pairs = []
    for _ in range(count):
        body = str(RANDOM.randrange(2, 10)) + "".join(str(RANDOM.randrange(10)) for _ in range(10))
        good = body + verhoeff.calc_check_digit(body)
        wrong = body + str((int(good[-1]) + RANDOM.randrange(1, 10)) % 10)
        pairs.append((good, wrong))
    return pairs


def test_indian_ids_are_redacted_in_hindi_text_and_broken_ones_left_alone() -> None:
    component = PiiComponent({}, ComponentContext())  # the language names the country
    contexts = ("मेरा आधार {} है", "आधार{}है", "Aadhaar: {}.")
    checked = 0
    for good, wrong in aadhaar_numbers(20):
        for shown_good, shown_wrong in (
            (good, wrong),
            (grouped(good), grouped(wrong)),
            (grouped(good).translate(DEVANAGARI_DIGITS), grouped(wrong).translate(DEVANAGARI_DIGITS)),
        ):
            for context in contexts:
                insights = Insights(tenant_id="t", text=context.format(shown_good), language="hi")
                component.analyse(insights)
                assert insights.redacted_text == context.format("[NATIONAL_ID]"), shown_good
                insights = Insights(tenant_id="t", text=context.format(shown_wrong), language="hi")
                component.analyse(insights)
                if shown_wrong == wrong:
                    # Twelve digits in one run may be a phone number ("911525506534"), not an id.
                    assert all(e.kind == "phone" for e in insights.entities), shown_wrong
                else:
                    assert insights.redacted_text == insights.text and insights.entities == [], shown_wrong
                checked += 1
    assert checked == 20 * 3 * 3
    # PAN: the fourth letter says who holds it (P a person, C a company...); X is no holder type.
    pan = Insights(tenant_id="t", text="मेरा पैन ABCPE1234F है, पुराना ABCXE1234F", language="hi")
    component.analyse(pan)
    assert pan.redacted_text == "मेरा पैन [NATIONAL_ID] है, पुराना ABCXE1234F"


def test_weakly_checked_ids_are_looked_for_only_in_their_country() -> None:
    # One 12-digit run in ten passes Aadhaar's check: elsewhere it is an order or a reference.
    good = aadhaar_numbers(1)[0][0]
    assert redact(f"reference {good}", regions=("US", "DE"))[1] == []
    assert [e.kind for e in redact(f"reference {good}", regions=("IN",))[1]] == ["national_id"]
    # English is spoken in India too, but an English message's 12 digits are not read as Aadhaar,
    # unless the tenant names India.
    english = Insights(tenant_id="t", text=f"order {good}", language="en")
    PiiComponent({}, ComponentContext()).analyse(english)
    assert not any(e.kind == "national_id" for e in english.entities)
    indian_tenant = Insights(tenant_id="t", text=f"order {good}", language="en")
    PiiComponent({"phoneRegions": "IN"}, ComponentContext()).analyse(indian_tenant)
    assert [e.kind for e in indian_tenant.entities] == ["national_id"]


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
