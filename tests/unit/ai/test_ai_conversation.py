"""Summaries, escalation, tickets and knowledge retrieval (pure domain)."""

from __future__ import annotations

import pytest

from ai.domain.escalation import escalation
from ai.domain.knowledge import Article, KnowledgeError, KnowledgeIndex, validate
from ai.domain.summary import Turn, summarize, wrap_up
from ai.domain.ticket import build_ticket
from ccpolicy.pii import Entity

CONVERSATION = [
    Turn("customer", "Hello. My order of running shoes has not arrived yet. It was due last Monday."),
    Turn("agent", "I am sorry to hear that. Let me check the order status for you."),
    Turn("customer", "The tracking page says the parcel is stuck in the depot. I need the shoes for a race."),
    Turn("agent", "The parcel is delayed at the depot. I have sent a replacement pair by express delivery."),
    Turn("customer", "Thank you, that helps a lot."),
]


def test_the_summary_leads_with_the_customer_request_and_keeps_speakers_and_order() -> None:
    summary = summarize(CONVERSATION, max_sentences=3)
    sentences = summary.split("Customer: ")[1:] + summary.split("Agent: ")[1:]
    assert summary.startswith("Customer: My order of running shoes has not arrived yet.")
    assert len(sentences) == 3
    assert "depot" in summary  # the topic said most often is kept
    assert summary.index("Customer:") < summary.index("Agent:")


def test_wrap_up_says_what_it_was_about_and_how_the_mood_went() -> None:
    text = wrap_up(CONVERSATION, "order_status", 0.5)
    assert text.startswith("Contact about order status; 3 customer message(s); the customer's mood improved.")


def test_summaries_of_nothing_are_empty() -> None:
    assert summarize([]) == ""
    assert summarize([Turn("customer", "ok")]) == ""


def test_escalation_score_rises_with_each_signal_and_says_why() -> None:
    calm, reasons = escalation(0.5, [0.4], "order_status", 0, 10)
    assert calm == 0.0 and reasons == []
    score, reasons = escalation(-0.8, [0.3, -0.2], "cancel_subscription", 3, 600)
    assert score >= 0.9
    assert len(reasons) == 5
    assert any("cancel" in r for r in reasons) and any("600 s" in r for r in reasons)


def test_a_ticket_carries_category_priority_summary_entity_kinds_and_customer() -> None:
    ticket = build_ticket(
        intent="refund",
        summary="Customer wants a refund.",
        first_message="I want a refund for order [ORDER_NUMBER], it arrived broken " + "x" * 100,
        escalation_score=0.8,
        sentiment=-0.6,
        entities=[Entity(0, 1, "email"), Entity(2, 3, "order_number"), Entity(4, 5, "email")],
        customer_ref="cust-42",
    )
    assert ticket.category == "refund"
    assert ticket.priority == "urgent"
    assert (
        ticket.title.startswith("Refund: I want a refund for order [ORDER_NUMBER]")
        and len(ticket.title) < 100
    )
    assert ticket.entity_kinds == ("email", "order_number")
    assert ticket.customer_ref == "cust-42"
    calm = build_ticket(
        intent="out_of_scope",
        summary="",
        first_message="",
        escalation_score=0,
        sentiment=0.5,
        entities=[],
        customer_ref="",
    )
    assert (calm.category, calm.priority) == ("general", "low")


ARTICLES = [
    Article(
        "returns",
        "Returns and refunds",
        "Return any item within 30 days.\nRefunds reach your card in 5 days.",
        "en",
    ),
    Article("delivery", "Delivery times", "Standard delivery takes 2 to 4 business days.", "en"),
    Article(
        "devoluciones",
        "Devoluciones",
        "Puede devolver cualquier artículo en 30 días.\nEl reembolso llega en 5 días.",
        "es",
    ),
    Article("zh-refund", "退款政策", "收到商品后三十天内可以申请退款。", "zh"),
]


@pytest.mark.parametrize(
    ("query", "article"),
    [
        ("how long does delivery take", "delivery"),
        ("when do I get my refund", "returns"),
        ("quiero devolver un artículo, cuándo llega el reembolso", "devoluciones"),
        ("我想申请退款", "zh-refund"),
    ],
)
def test_agent_assist_finds_the_article_in_the_customers_language(query: str, article: str) -> None:
    suggestions = KnowledgeIndex(ARTICLES).suggest(query, limit=2)
    assert suggestions[0].article_id == article
    assert suggestions[0].reply  # a paragraph of that article


def test_the_suggested_reply_is_the_paragraph_that_matches() -> None:
    best = KnowledgeIndex(ARTICLES).suggest("refund card", limit=1)[0]
    assert best.reply == "Refunds reach your card in 5 days."


def test_nothing_matching_gives_no_suggestion() -> None:
    assert KnowledgeIndex(ARTICLES).suggest("zebra quantum", limit=3) == []
    assert KnowledgeIndex([]).suggest("anything") == []


@pytest.mark.parametrize(
    ("article", "problem"),
    [
        (Article("", "t", "b"), "must have 1-200 characters"),
        (Article("a", "t", "  "), "empty body"),
        (Article("a", "t", "x" * 100_001), "longer than"),
    ],
)
def test_bad_articles_are_refused_naming_them(article: Article, problem: str) -> None:
    with pytest.raises(KnowledgeError, match=problem):
        validate(article)
