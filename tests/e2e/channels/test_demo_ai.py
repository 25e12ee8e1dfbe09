"""The demo shows the product's AI: `ccctl up` trained acme's intents and loaded its knowledge
base from examples/ai/, so a newcomer's first messages get real intents, suggested answers
and a summary, and a message no intent fits shows as "unknown".
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import RunningRegion

pytestmark = pytest.mark.timeout(240)


async def test_a_refund_request_gets_its_intent_suggestions_and_a_summary(e2e_region: RunningRegion) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        text = "Hello, I returned the shoes two weeks ago and I still want my money back"
        status, _ = await e2e_region.sms(http, "+447700900611", text)
        assert status == 200
        offer = await alice.expect("offer", seconds=60)
        while offer["customer"]["firstMessage"] != text:
            offer = await alice.expect("offer", seconds=60)
        await alice.send(type="accept", id="take", reservationId=offer["reservationId"])
        contact_id = offer["contactId"]
        await alice.expect("conversation", contactId=contact_id)

        insights = await e2e_region.wait_event("ai_insight", contact_id)
        assert insights[0].ai_insight.intent == "refund", insights[0].ai_insight

        await alice.send(type="suggest", id="s1", contactId=contact_id)
        suggestions = await alice.expect("suggestions", contactId=contact_id)
        titles = [s["articleTitle"] for s in suggestions["suggestions"]]
        assert "Refunds" in titles, suggestions

        await alice.send(type="summarize", id="sum", contactId=contact_id)
        summary = await alice.expect("summary", id="sum")
        assert summary["summary"].strip(), summary

        # Small talk fits no trained intent: the agent is told "unknown", never "out_of_scope".
        first_analysed = insights[0].ai_insight.message_id
        await e2e_region.sms(http, "+447700900611", "my cat likes to sleep on the piano")
        pushed = await alice.expect("insight", seconds=60, contactId=contact_id)
        while pushed["messageId"] == first_analysed:
            pushed = await alice.expect("insight", seconds=60, contactId=contact_id)
        assert pushed["intent"] == "out_of_scope", pushed
        assert pushed["intentLabel"] == "unknown" and pushed["summary"].startswith("Intent: unknown")
        assert pushed["channel"] == "sms"
