"""A journey's `integration` step calls the tenant's connector when one answers the integration.

Over in-memory stores and a fake connector port: the example support journey's CRM steps get the
connector's fields (stored where the node says) and hand the connector what the journey learned;
a failing or slow connector takes the node's onFailure within the node's time; an integration no
connector answers is waited for as an external system's flow event, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from journey_fakes import FakeFlows, FakeJourneys, FakePolicies

from ccflow.effects import HandOff
from ccflow.journey import Journey
from ccflow.loader import read_sources
from routing.domain.journey_facts import Analysis, QueueLoad, WorkFailed
from routing.service_layer.journey_work import journey_inputs
from routing.service_layer.journeys import JourneyService

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"


class FakeAi:
    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis:
        return Analysis("es", "billing", -0.8)

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str:
        return ""


class FakeQueues:
    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return QueueLoad(0, 0.0, 1, 30.0)


class FakeConnectors:
    """Answers the integrations in `answers`; None (no connector) for the others."""

    def __init__(self, answers: Mapping[str, dict[str, str]], *, fail: str = "", delay: float = 0.0) -> None:
        self.answers = answers
        self.fail = fail
        self.delay = delay
        self.calls: list[tuple[str, str, str, str, dict[str, str], float]] = []

    async def invoke(
        self,
        tenant: str,
        brand: str,
        contact_id: str,
        integration: str,
        inputs: Mapping[str, str],
        timeout: float,
    ) -> dict[str, str] | None:
        self.calls.append((tenant, brand, contact_id, integration, dict(inputs), timeout))
        if self.delay:
            await asyncio.sleep(self.delay)  # ignores its timeout: the step must not wait for it
        if self.fail:
            raise WorkFailed(self.fail)
        found = self.answers.get(integration)
        return dict(found) if found is not None else None


async def journey_service(
    connectors: FakeConnectors, files: list[tuple[str, str]] | None = None
) -> tuple[JourneyService, list[HandOff]]:
    handed_off: list[HandOff] = []

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        handed_off.append(hand_off)

    service = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        FakeJourneys(),  # type: ignore[arg-type]
        "eu",
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        ai=FakeAi(),
        queues=FakeQueues(),
        connectors=connectors,
    )
    await service.publish_flow("acme", "support", files or read_sources([EXAMPLES]))
    await service.set_alias("acme", "support", "live", 1, 0, 0.0)
    return service, handed_off


def billing_question(contact: str) -> Journey:
    text = "me cobraron dos veces"
    return Journey(journey_id=contact, flow="support", channel="chat", brand="retail", input=text, text=text)


async def test_the_crm_steps_continue_with_the_fields_the_connector_answers() -> None:
    connectors = FakeConnectors({"crm-account": {"tier": "gold"}, "crm-cases": {"open": "2"}})
    service, handed_off = await journey_service(connectors)
    step = await service.start("acme", billing_question("k1"), "live")

    assert step.journey.status == "ended"
    assert step.journey.attributes["account"] == {"tier": "gold"}
    assert step.journey.attributes["cases"] == {"open": "2"}
    assert step.journey.errors == []
    assert [h.queue for h in handed_off] == ["eu-support"]
    asked = {call[3]: call for call in connectors.calls}
    assert sorted(asked) == ["crm-account", "crm-cases"]
    tenant, brand, contact, _, inputs, timeout = asked["crm-account"]
    assert (tenant, brand, contact) == ("acme", "retail", "k1")
    assert inputs == {"intent": "billing", "language": "es", "channel": "webchat", "brand": "retail"}
    assert 0 < timeout <= 2.0  # the node's timeoutSeconds


async def test_a_failing_connector_takes_the_nodes_error_branch_and_the_journey_goes_on() -> None:
    connectors = FakeConnectors({}, fail="connector for 'crm-account': UNAVAILABLE: HTTP 503")
    service, handed_off = await journey_service(connectors)
    step = await service.start("acme", billing_question("k2"), "live")

    assert "account" not in step.journey.attributes and "cases" not in step.journey.attributes
    assert [e["node"] for e in step.journey.errors] == ["fetch-account", "fetch-cases"]
    assert "HTTP 503" in step.journey.errors[0]["error"]
    assert step.journey.path[-1] == "to-queue"
    assert [h.queue for h in handed_off] == ["eu-support"]


async def test_a_slow_connector_costs_the_step_its_timeout_not_the_contact() -> None:
    quick = []
    for name, text in read_sources([EXAMPLES]):
        if name.endswith("support.yaml"):
            text = text.replace("      timeoutSeconds: 2\n", "      timeoutSeconds: 0.1\n")
        quick.append((name, text))
    service, handed_off = await journey_service(FakeConnectors({}, delay=30), quick)
    step = await service.start("acme", billing_question("k3"), "live")

    assert step.journey.errors[0] == {"node": "fetch-account", "error": "no answer within 0.1s"}
    assert [h.queue for h in handed_off] == ["eu-support"]


async def test_an_integration_no_connector_answers_waits_for_the_systems_flow_event() -> None:
    connectors = FakeConnectors({"crm-account": {"tier": "silver"}})
    service, _ = await journey_service(connectors)
    task = asyncio.ensure_future(service.start("acme", billing_question("k4"), "live"))
    while not task.done():
        service.flow_event_waits.deliver("acme", "k4", "crm_cases", {"open": "5"})
        await asyncio.sleep(0.005)
    step = task.result()

    assert step.journey.attributes["account"] == {"tier": "silver"}
    assert step.journey.attributes["cases"] == {"open": "5"}
    assert [call[3] for call in connectors.calls] == ["crm-account", "crm-cases"]


def test_a_journey_hands_over_what_it_learned_and_its_plain_attributes_only() -> None:
    journey = Journey(
        journey_id="k5",
        flow="support",
        channel="sms",
        intent="orders",
        attributes={"choice": "2", "vip": True, "account": {"tier": "gold"}, "tags": ["a"]},
    )
    assert journey_inputs(journey) == {"choice": "2", "vip": "True", "intent": "orders", "channel": "sms"}
