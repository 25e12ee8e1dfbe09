# ruff: noqa: RUF001 - CJK full-width punctuation is part of the test texts
"""Sentiment per message in every supported language, and its trend over a conversation."""

from __future__ import annotations

import pytest

from ai.domain.sentiment import label, score, trend

CASES = {
    "en": ("Thank you, great help!", "This is terrible, my order is late again"),
    "es": ("Gracias, excelente servicio", "Es horrible, mi pedido nunca llegó"),
    "pt": ("Obrigado, ótimo atendimento", "Péssimo, meu pedido está atrasado"),
    "fr": ("Merci, service parfait", "C'est horrible, je suis déçu"),
    "de": ("Danke, super Service", "Schrecklich, ich bin sehr enttäuscht"),
    "it": ("Grazie, servizio ottimo", "Pessimo, sono molto deluso"),
    "zh": ("谢谢，服务很好", "太糟糕了，我很失望"),
    "ja": ("ありがとうございます、助かりました", "最悪です、まだ届きません"),
    "ko": ("감사합니다, 정말 좋아요", "최악이에요, 너무 실망했어요"),
    "ar": ("شكرا، خدمة ممتازة", "خدمة سيئة، أنا غاضب"),
    "hi": ("धन्यवाद, बहुत अच्छा", "बहुत खराब सेवा, मैं नाराज़ हूँ"),
    "id": ("Terima kasih, pelayanannya bagus", "Buruk sekali, saya kecewa"),
    "vi": ("Cảm ơn, dịch vụ rất tốt", "Dịch vụ tệ quá, tôi thất vọng"),
    "th": ("ขอบคุณมาก บริการดีมาก", "แย่มาก ฉันผิดหวัง"),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_positive_and_negative_messages_in_each_language(language: str) -> None:
    positive, negative = CASES[language]
    assert label(score(positive, language)) == "positive", positive
    assert label(score(negative, language)) == "negative", negative


@pytest.mark.parametrize("language", sorted(CASES))
def test_without_a_detected_language_every_lexicon_is_used(language: str) -> None:
    positive, negative = CASES[language]
    assert score(positive, "") > 0
    assert score(negative, "und") < 0


def test_negation_flips_polarity() -> None:
    assert score("this is good", "en") > 0
    assert score("this is not good", "en") < 0
    assert score("das ist nicht gut", "de") < 0


@pytest.mark.parametrize("text", ["", "order 12345", "\x00\x01\x02", "a" * 1_000_000])
def test_neutral_or_odd_text_is_neutral_not_an_error(text: str) -> None:
    assert label(score(text, "en")) == "neutral"


def test_trend_shows_a_conversation_getting_worse_or_better() -> None:
    assert trend([0.5, 0.2, -0.4, -0.8]) < 0
    assert trend([-0.8, -0.2, 0.4, 0.9]) > 0
    assert trend([0.3]) == 0.0
    assert trend([]) == 0.0
