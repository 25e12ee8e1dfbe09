"""The AI service serves the customer's language, from the stream as the platform feeds it: the
conversation holds the customer's messages and the agent's replies (MessageSent), suggestions come
from the articles in the customer's language, and the summary holds both sides in that language."""

from __future__ import annotations

from typing import Any

import pytest
from _platform import REGION, Platform, eu_contact_center, eventually, platform  # noqa: F401

from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(90)
CHAT = common_pb2.CHANNEL_KIND_WEBCHAT

ARTICLES = [
    ("refund-es", "es", "Reembolsos", "Le devolvemos el dinero a su tarjeta en cinco días hábiles."),
    ("refund-pt", "pt", "Reembolsos", "Devolvemos o dinheiro ao seu cartão em cinco dias úteis."),
    ("refund-en", "en", "Refunds", "We return the money to your card within five working days."),
    ("delivery-pt", "pt", "Entregas", "As encomendas chegam em dois a quatro dias úteis."),
]


async def test_a_portuguese_conversation_gets_portuguese_help_and_a_summary_of_both_sides(
    platform: Platform,  # noqa: F811
) -> None:
    await platform.apply(eu_contact_center())  # the example region streams insights
    await platform.start("ai")
    admin = platform.stub(AiServiceStub, tenant="acme", role="admin")
    agent = platform.stub(AiServiceStub, tenant="acme", role="agent")
    await admin.LoadKnowledge(
        ai_pb2.LoadKnowledgeRequest(
            tenant_id="acme",
            articles=[
                ai_pb2.Article(article_id=i, language=lang, title=title, body=body)
                for i, lang, title, body in ARTICLES
            ],
        )
    )
    events = EventPublisher(platform.nc.jetstream(), REGION)

    async def say(event_id: str, payload: Any) -> None:
        await events.publish(
            new_event(
                payload,
                tenant_id="acme",
                region=REGION,
                source="gateway",
                contact_id="pt-1",
                event_id=event_id,
            )
        )

    await say(
        "m-1",
        events_pb2.MessageReceived(
            message_id="m-1",
            channel=CHAT,
            text="Devolvi a encomenda há uma semana. Quero o meu dinheiro de volta.",
        ),
    )

    async def customer_turn() -> Any:
        try:
            return await agent.SuggestReplies(
                ai_pb2.SuggestRepliesRequest(tenant_id="acme", contact_id="pt-1")
            )
        except RpcError:
            return None  # the conversation is not stored yet

    suggested = await eventually(customer_turn, seconds=20)
    best = suggested.suggestions[0]
    assert (best.article_id, best.language) == ("refund-pt", "pt")  # not the Spanish article

    await say(
        "r-1",
        events_pb2.MessageSent(
            message_id="r-1",
            channel=CHAT,
            sender="agent:alice",
            text="Lamento muito a demora. O reembolso foi aprovado hoje e chega ao cartão em cinco dias.",
        ),
    )

    async def both_sides() -> Any:
        summary = await agent.SummarizeConversation(
            ai_pb2.SummarizeConversationRequest(tenant_id="acme", contact_id="pt-1")
        )
        return summary if summary.messages == 2 else None

    summary = (await eventually(both_sides, seconds=20)).summary
    assert summary.startswith("Cliente: Devolvi a encomenda há uma semana.")
    assert "Agente: Lamento muito a demora." in summary or "Agente: O reembolso foi aprovado" in summary
    wrapped = await agent.WrapUpConversation(
        ai_pb2.WrapUpConversationRequest(tenant_id="acme", contact_id="pt-1", customer_ref="cust-pt")
    )
    assert wrapped.summary.startswith("Contato sobre um pedido não classificado; 1 mensagem(ns) do cliente;")
    assert "Cliente:" in wrapped.summary and "Agente:" in wrapped.summary
