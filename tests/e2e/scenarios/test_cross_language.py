"""Cross-language: customers write in es, de, fr, ja, ar and en on the web chat; six agents who
speak one language each log in, in an order that matches none of theirs. Every contact is offered
to an agent who speaks its customer's language (the language the AI service detected before the
contact was queued, routing's queue language rule), the suggested article is in that language,
and the wrap-up summary holds both sides of the conversation, worded in the customer's language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import RunningRegion, WsClient, eventually, running_region
from tests.e2e.scenarios._regions import examples_with

#: Customer messages about their order, and the agent's answer, per language.
CUSTOMERS = {
    "es": (
        "Hola, mi pedido todavía no ha llegado. ¿Dónde está mi paquete?",
        "Su pedido sale hoy, le enviamos el enlace de seguimiento.",
    ),
    "de": (
        "Hallo, meine Bestellung ist noch nicht da. Wo ist mein Paket?",
        "Ihre Bestellung wird heute versandt, Sie bekommen den Link zur Sendungsverfolgung.",
    ),
    "fr": (
        "Bonjour, ma commande n'est toujours pas arrivée. Où est mon colis ?",
        "Votre commande part aujourd'hui, vous recevrez le lien de suivi.",
    ),
    "ja": (
        "こんにちは、注文した荷物がまだ届きません。配送状況を教えてください。",
        "ご注文は本日発送します。追跡用のリンクをお送りします。",
    ),
    "ar": (
        "مرحبا، طلبي لم يصل بعد. أين الطرد الخاص بي؟",
        "سيتم شحن طلبك اليوم وسنرسل لك رابط التتبع.",
    ),
    "en": (
        "Hello, my order has still not arrived. Where is my parcel?",
        "Your order ships today, we will send you the tracking link.",
    ),
}
#: Agents log in in this order: none of them matches the order the customers wrote in.
LOGIN_ORDER = ["ar", "en", "ja", "fr", "es", "de"]
#: The customer's label in the summary, per language (the AI service's summary templates).
CUSTOMER_LABEL = {
    "es": "Cliente:",
    "de": "Kunde:",
    "fr": "Client :",
    "ja": "お客様:",
    "ar": "العميل:",
    "en": "Customer:",
}
AGENT_LABEL = {
    "es": "Agente:",
    "de": "Agent:",
    "fr": "Agent :",
    "ja": "担当者:",
    "ar": "الموظف:",
    "en": "Agent:",
}


def agent_id(language: str) -> str:
    return f"speaker-{language}"


@pytest.fixture(scope="module")
def polyglot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    root = tmp_path_factory.mktemp("cross-language")
    examples = examples_with(
        root,
        workspaces={
            "eu": {
                "tenant": "acme",
                "queues": [{"name": "support", "brand": "acme-retail"}],
                "agents": [
                    {
                        "id": agent_id(language),
                        "displayName": f"Agent {language}",
                        "brands": ["acme-retail"],
                        "queues": ["support"],
                        "languages": [language],
                        "channels": {"webchat": 1},
                    }
                    for language in CUSTOMERS
                ],
            }
        },
    )
    with running_region(root / "platform", examples_dir=examples) as region:
        yield region


async def login(region: RunningRegion, http: Any, agent: str) -> WsClient:
    return await region.agent(http, agent)


async def test_every_contact_reaches_a_speaker_with_help_and_a_summary_in_its_language(
    polyglot: RunningRegion,
) -> None:
    region = polyglot
    async with region.http() as http:
        contacts: dict[str, str] = {}
        chats: dict[str, WsClient] = {}
        for language, (text, _) in CUSTOMERS.items():
            chat = await region.chat(http, visitor=f"polyglot-{language}")
            await chat.send(type="message", id=f"{language}-1", text=text)
            contacts[language] = (await chat.expect("ack", id=f"{language}-1"))["contactId"]
            chats[language] = chat
        assert len(set(contacts.values())) == len(CUSTOMERS)

        for language in LOGIN_ORDER:
            agent = await login(region, http, agent_id(language))
            offer = await agent.expect("offer", seconds=40)
            # Only the customer who writes this agent's language is offered to them.
            assert offer["contactId"] == contacts[language], (language, offer, region.log("routing")[-3000:])
            reservation = offer["reservationId"]
            await agent.send(type="accept", id=f"a-{language}", reservationId=reservation)
            await agent.expect("accepted", reservationId=reservation)
            contact = contacts[language]

            await agent.send(type="suggest", id=f"s-{language}", contactId=contact)
            # The first suggestion loads the sentence encoder: a generous bound on a busy machine.
            suggested = await agent.expect("suggestions", seconds=60, id=f"s-{language}")
            suggestions = suggested["suggestions"]
            assert suggestions, f"no suggestion for the {language} customer"
            assert suggestions[0]["language"] == language, (language, suggestions)

            answer = CUSTOMERS[language][1]
            await agent.send(type="send", id=f"r-{language}", contactId=contact, text=answer)
            await agent.expect("sent", id=f"r-{language}")
            await chats[language].expect("message", seconds=20, text=answer)

            async def both_sides(agent: WsClient = agent, language: str = language) -> dict[str, Any] | None:
                await agent.send(type="summarize", id=f"sum-{language}", contactId=contacts[language])
                summary = await agent.expect("summary", id=f"sum-{language}")
                return summary if summary["messages"] >= 2 else None

            await eventually(both_sides)
            await agent.send(type="wrap_up", id=f"w-{language}", contactId=contact, disposition="resolved")
            ticket = (await agent.expect("wrapped_up", id=f"w-{language}"))["ticket"]
            assert ticket is not None, f"no ticket for the {language} contact"
            summary = ticket["summary"]
            assert CUSTOMER_LABEL[language] in summary and AGENT_LABEL[language] in summary, (
                language,
                summary,
            )
            await agent.ws.close()
