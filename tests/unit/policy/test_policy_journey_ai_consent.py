"""A journey's AI step where a `consent` rule covers AI analysis: without the customer's consent
(as the journey carries it) the AI service is not asked, the step takes its `onFailure` branch
naming the rule, and one PolicyViolation is published; with consent the step runs as before."""

from __future__ import annotations

from pathlib import Path

from ccflow.effects import HandOff
from ccflow.journey import Journey
from ccflow.loader import read_sources
from ccmesh.policy_violations import PolicyCheck
from ccpolicy import ConsentRule, Purpose, RuleSet
from contactcenter.events.v1 import events_pb2
from routing.domain.journey_facts import Analysis
from routing.service_layer.journeys import JourneyService
from tests.unit.flows.journey_fakes import FakeFlows, FakeJourneys, FakePolicies

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"
RULES = RuleSet((ConsentRule("eu-ai-consent", frozenset({"eu"}), frozenset({Purpose.AI_ANALYSIS})),))


class CountingAi:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis:
        self.texts.append(text)
        return Analysis("en", "billing", 0.2)

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str:
        raise AssertionError("the support journey asks for no summary")


class Violations:
    def __init__(self) -> None:
        self.published: list[events_pb2.Event] = []

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        self.published.append(event)


async def _service(region: str, ai: CountingAi, violations: Violations) -> JourneyService:
    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        return None

    service = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        FakeJourneys(),  # type: ignore[arg-type]
        region,
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        ai=ai,
        compliance=PolicyCheck(region=region, source="routing", rules=lambda: RULES, events=violations),
    )
    # The account look-ups after the AI steps get no answer here: let them time out at once.
    quick = "timeoutSeconds: 0.05\n"
    files = [(name, text.replace("timeoutSeconds: 2\n", quick)) for name, text in read_sources([EXAMPLES])]
    await service.publish_flow("acme", "support", files)
    await service.set_alias("acme", "support", "live", 1, 0, 0.0)
    return service


def _journey(contact: str, consent: dict[str, bool]) -> Journey:
    return Journey(journey_id=contact, flow="support", channel="chat", input="charged twice", consent=consent)


async def test_without_consent_the_ai_step_is_refused_naming_the_rule_and_takes_its_failure_branch() -> None:
    for contact, consent in (("c-none", {}), ("c-withdrawn", {"ai_analysis": False, "recording": True})):
        ai, violations = CountingAi(), Violations()
        service = await _service("eu", ai, violations)
        step = await service.start("acme", _journey(contact, consent), "live")

        assert ai.texts == []  # the customer's words never reached the AI service
        assert step.journey.node == "menu" and step.journey.waiting_for == "input"  # not stalled
        assert step.journey.errors[0]["node"] == "detect-intent"
        assert "eu-ai-consent" in step.journey.errors[0]["error"]
        assert [e.policy_violation.rule for e in violations.published] == ["eu-ai-consent"]
        assert violations.published[0].policy_violation.action == "analyse"
        assert violations.published[0].contact_id == contact


async def test_with_consent_or_outside_the_rules_region_the_ai_step_runs() -> None:
    for region, consent in (("eu", {"ai_analysis": True}), ("us", {})):
        ai, violations = CountingAi(), Violations()
        service = await _service(region, ai, violations)
        step = await service.start("acme", _journey(f"c-{region}", consent), "live")

        assert ai.texts and step.journey.intent == "billing"
        assert "detect-intent" not in [e["node"] for e in step.journey.errors]
        assert violations.published == []
