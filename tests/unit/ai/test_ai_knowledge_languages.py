"""The knowledge base serves languages: articles carry one, the customer's language comes first,
paraphrases match through the shipped sentence encoder; summaries hold both sides of the
conversation, worded in the customer's language where a template exists and saying so where not."""

from __future__ import annotations

import pytest

from ai.domain.knowledge import Article, KnowledgeIndex
from ai.domain.language import detect, reliable
from ai.domain.minilm import MiniLMEncoder
from ai.domain.summary import TEMPLATES, Turn, summarize, wrap_up
from ai.service_layer.analysis import conversation_language

ARTICLES = [
    Article(
        "refund-en",
        "Refunds",
        "We return the money to your card within five working days after we receive the parcel.",
        "en",
    ),
    Article(
        "delivery-en",
        "Delivery times",
        "Parcels arrive within two to four days; track them with the link in your confirmation e-mail.",
        "en",
    ),
    Article(
        "password-en",
        "Passwords",
        "Reset your password from the sign-in page with the 'forgot password' link.",
        "en",
    ),
    Article(
        "refund-es",
        "Reembolsos",
        "Le devolvemos el dinero a su tarjeta en cinco días hábiles después de recibir el paquete.",
        "es",
    ),
    Article(
        "refund-pt",
        "Reembolsos",
        "Devolvemos o dinheiro ao seu cartão em cinco dias úteis após recebermos a encomenda.",
        "pt",
    ),
    Article(
        "delivery-de",
        "Lieferzeiten",
        "Pakete kommen in zwei bis vier Tagen an; verfolgen Sie sie mit dem Link in Ihrer Bestätigung.",
        "de",
    ),
    Article(
        "refund-fr",
        "Remboursements",
        "Nous remboursons votre carte sous cinq jours ouvrés après réception du colis.",
        "fr",
    ),
    Article(
        "delivery-ja",
        "配送について",
        "荷物は二日から四日で届きます。確認メールのリンクで追跡できます。",
        "ja",
    ),
    Article(
        "refund-ar",
        "استرداد المبلغ",
        "نعيد المبلغ إلى بطاقتك خلال خمسة أيام عمل بعد استلام الطرد.",
        "ar",
    ),
]


@pytest.fixture(scope="module")
def index(encoder: MiniLMEncoder) -> KnowledgeIndex:
    return KnowledgeIndex(ARTICLES, encoder=encoder)


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        ("quero o meu dinheiro de volta", "pt", "refund-pt"),  # not the Spanish article
        ("Quiero que me devuelvan el dinero", "es", "refund-es"),
        ("Wann kommt mein Paket an?", "de", "delivery-de"),
        ("je veux être remboursé", "fr", "refund-fr"),  # no word shared with the article
        ("荷物がまだ届きません", "ja", "delivery-ja"),
        ("أريد استرداد أموالي", "ar", "refund-ar"),
    ],
)
def test_the_customers_language_comes_first(
    index: KnowledgeIndex, query: str, language: str, expected: str
) -> None:
    [best, *_] = index.suggest(query, limit=3, language=language)
    assert (best.article_id, best.language) == (expected, language)


def test_a_paraphrase_finds_the_article_that_keywords_miss(index: KnowledgeIndex) -> None:
    query = "I was charged but sent the item back, when do I get my cash?"
    assert index.search(query, 1, "en")[0][0].id == "refund-en"
    # BM25 alone is misled by the shared small words.
    assert KnowledgeIndex(ARTICLES).search(query, 1, "en")[0][0].id != "refund-en"
    assert index.search("my package hasn't shown up yet", 1, "en")[0][0].id == "delivery-en"
    assert KnowledgeIndex(ARTICLES).search("my package hasn't shown up yet", 1, "en") == []


def test_another_language_is_offered_only_after_the_customers_own() -> None:
    results = KnowledgeIndex(ARTICLES).search("Reembolsos dinheiro dinero", 3, "pt")
    assert [a.language for a, _ in results][:2] == ["pt", "es"]
    assert KnowledgeIndex(ARTICLES).suggest("zebra quantum", 3, "en") == []


CONVERSATION = [
    Turn("customer", "Mi pedido no ha llegado todavía. Lo pedí hace dos semanas."),
    Turn("bot", "Gracias por escribirnos."),
    Turn("agent", "Lo siento mucho, he reenviado su pedido hoy por mensajería urgente."),
    Turn("customer", "Perfecto, muchas gracias."),
]


def test_the_summary_holds_both_sides_in_the_customers_language() -> None:
    summary = summarize(CONVERSATION, max_sentences=3, language="es")
    assert summary.startswith("Cliente: Mi pedido no ha llegado todavía.")
    assert "Agente: Lo siento mucho, he reenviado su pedido" in summary
    text = wrap_up(CONVERSATION, "order_status", 0.5, "es")
    assert text.startswith(
        "Contacto sobre order status; 2 mensaje(s) del cliente; el ánimo del cliente mejoró."
    )
    assert "Agente:" in text and "Cliente:" in text


def test_a_language_without_a_template_is_worded_in_english_and_says_so() -> None:
    turns = [
        Turn("customer", "Zamówienie nie dotarło do mnie."),
        Turn("agent", "Wysłałem je ponownie dzisiaj."),
    ]
    text = wrap_up(turns, "out_of_scope", 0.0, "pl")
    assert text.startswith("Contact about an unclassified request;")
    assert text.endswith("(Summary in English: no summary template for language 'pl'.)")
    assert "Agent: Wysłałem je ponownie dzisiaj." in text


def test_every_template_fills_its_headline() -> None:
    for code, template in TEMPLATES.items():
        line = template.headline.format(topic="billing", messages=2, mood=template.steady)
        assert "billing" in line and "2" in line, code


def test_the_conversation_language_is_the_customers() -> None:
    turns = [
        {"speaker": "customer", "language": "ja"},
        {"speaker": "agent", "language": "en"},
        {"speaker": "agent", "language": "en"},
        {"speaker": "customer", "language": "und"},
    ]
    assert conversation_language(turns) == "ja"
    assert conversation_language([{"speaker": "agent", "language": "en"}]) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", False),  # Italian, 0.36
        ("ok", False),  # Indonesian, 0.54: one word
        ("where is my order", True),
        ("Hello, my order has still not arrived. Where is my parcel?", True),
        ("Bonjour", True),  # a clear detection, however short
        ("こんにちは、荷物が届きません", True),
        ("12345", False),
    ],
)
def test_only_a_reliable_language_is_routed_by(text: str, expected: bool) -> None:
    code, confidence = detect(text)
    assert reliable(text, code, confidence) is expected, (code, confidence)
