"""Routing carries out what a journey's `ai` and `integration` nodes ask, within the same step.

Over in-memory stores, a fake AI service and fake queue figures: the example support journey runs
from the first message to its end, AI steps that fail or time out take their error branch, the
platform's own integrations answer from the queue ahead, an external system's flow event reaches
the step that waits for it, and the hand-off carries what the journey learned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from journey_fakes import FakeFlows, FakeJourneys, FakePolicies

from ccflow.effects import AwaitInput, HandOff, Input, ScheduleCallback, SendPrompt
from ccflow.journey import Journey
from ccflow.loader import read_sources
from ccmesh.rpc_context import current_deadline
from routing.domain.journey_facts import Analysis, QueueLoad, WorkFailed
from routing.service_layer.journeys import JourneyService, Step

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"
US_DAY = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
US_NIGHT = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)  # Monday 23:00 in New York
T = TypeVar("T")


class FakeAi:
    def __init__(self, analysis: Analysis | None = None, *, delay: float = 0.0, fail: str = "") -> None:
        self.analysis = analysis or Analysis("en", "billing", 0.2)
        self.delay = delay
        self.fail = fail
        self.texts: list[str] = []

    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis:
        self.texts.append(text)
        if self.delay:
            await asyncio.sleep(self.delay)  # ignores its timeout: the step must not wait for it
        if self.fail:
            raise WorkFailed(self.fail)
        return self.analysis

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str:
        return "summary"


class FakeQueues:
    def __init__(self, waiting: int = 0, expected: float = 45.0) -> None:
        self.waiting = waiting
        self.expected = expected
        self.asked: list[str] = []

    async def load(self, tenant: str, queue: str) -> QueueLoad:
        self.asked.append(queue)
        return QueueLoad(self.waiting, 12.0, 3, self.expected)


def files_with(*changes: tuple[str, str, str]) -> list[tuple[str, str]]:
    files = []
    for name, text in read_sources([EXAMPLES]):
        for file, old, new in changes:
            if name.endswith(file):
                assert old in text
                text = text.replace(old, new)
        files.append((name, text))
    return files


async def service_in(
    region: str,
    ai: FakeAi | None,
    queues: FakeQueues | None = None,
    *,
    clock: datetime = US_DAY,
    files: list[tuple[str, str]] | None = None,
) -> tuple[JourneyService, list[tuple[Journey, HandOff]]]:
    published: list[tuple[Journey, HandOff]] = []

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        published.append((Journey.from_dict(journey.to_dict()), hand_off))

    service = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        FakeJourneys(),  # type: ignore[arg-type]
        region,
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        clock=lambda: clock,
        ai=ai,
        queues=queues,
    )
    await service.publish_flow("acme", "support", files or read_sources([EXAMPLES]))
    await service.set_alias("acme", "support", "live", 1, 0, 0.0)
    return service, published


async def answering(
    service: JourneyService, contact: str, answers: Mapping[str, dict[str, str]], step: Awaitable[T]
) -> T:
    """Run `step` while an external system answers each integration as soon as a step waits for it."""
    task = asyncio.ensure_future(step)
    pending = dict(answers)
    while not task.done():
        for name in list(pending):
            if service.flow_event_waits.deliver("acme", contact, name, pending[name]):
                del pending[name]
        await asyncio.sleep(0.005)
    assert not pending, f"no step waited for {sorted(pending)}"
    return task.result()


def prompts(step: Step) -> list[str]:
    return [e.prompt for e in step.effects if isinstance(e, SendPrompt | AwaitInput)]


CRM = {"crm-account": {"tier": "gold"}, "crm_cases": {"open": "2"}}


async def test_the_first_message_runs_the_support_journey_to_its_queue_with_what_it_learned() -> None:
    ai = FakeAi(Analysis("es", "billing", -0.8))
    service, published = await service_in("eu", ai)
    journey = Journey(
        journey_id="c1",
        flow="support",
        channel="chat",
        input="me cobraron dos veces",
        text="me cobraron dos veces",
    )
    step = await answering(service, "c1", CRM, service.start("acme", journey, "live"))

    assert step.journey.status == "ended"
    assert step.journey.path[:3] == ["welcome", "after-welcome", "detect-intent"]
    assert {"score-sentiment", "fetch-account", "fetch-cases", "eu-unhappy", "to-queue"} <= set(
        step.journey.path
    )
    assert step.journey.attributes["account"] == {"tier": "gold"}
    assert step.journey.attributes["cases"] == {"open": "2"}
    # One analysis serves the intent and the sentiment step.
    assert ai.texts == ["me cobraron dos veces"]
    [(queued, hand_off)] = published
    assert hand_off.queue == "eu-support"
    assert (queued.language, queued.intent, queued.sentiment) == ("es", "billing", -0.8)
    assert prompts(step) == ["welcome"]


async def test_an_ai_step_that_times_out_takes_its_error_branch_and_the_journey_goes_on() -> None:
    slow = files_with(
        ("support.yaml", "      task: intent\n", "      task: intent\n      timeoutSeconds: 0.1\n")
    )
    service, published = await service_in("eu", FakeAi(delay=30), files=slow)
    journey = Journey(journey_id="c2", flow="support", channel="chat", input="hello")
    step = await service.start("acme", journey, "live")

    assert (step.journey.status, step.journey.waiting_for, step.journey.node) == ("waiting", "input", "menu")
    assert step.journey.errors == [{"node": "detect-intent", "error": "no answer within 0.1s"}]
    assert prompts(step) == ["welcome", "main-menu"]
    # Nothing lost: the journey is stored and takes the customer's choice.
    fraud = await service.resume("acme", "c2", Input("9"))
    assert fraud.journey.outcome["queue"] == "bank-fraud"
    assert [h.queue for _, h in published] == ["bank-fraud"]


async def test_a_failing_ai_service_and_a_silent_system_take_the_error_branches() -> None:
    quick = files_with(
        ("support.yaml", "      timeoutSeconds: 2\n", "      timeoutSeconds: 0.05\n"),
    )
    service, published = await service_in("eu", FakeAi(fail="UNAVAILABLE: no responders"), files=quick)
    journey = Journey(journey_id="c3", flow="support", channel="chat", input="hi")
    step = await service.start("acme", journey, "live")
    assert step.journey.node == "menu"
    step = await service.resume("acme", "c3", Input("1"))
    # crm-account and crm-cases never answer: both time out and the journey goes on to eu's offer.
    assert (step.journey.waiting_for, step.journey.node) == ("input", "eu-offer")
    assert "account" not in step.journey.attributes
    assert published == []


async def test_voice_without_text_does_not_ask_the_ai_service_and_falls_back_to_the_menu() -> None:
    ai = FakeAi()
    service, _ = await service_in("eu", ai)
    step = await service.start("acme", Journey(journey_id="v1", flow="support", channel="voice"), "live")
    assert step.journey.node == "menu" and ai.texts == []
    assert step.journey.errors[0]["node"] == "detect-intent"


async def test_wait_time_estimate_is_answered_from_the_queue_ahead() -> None:
    queues = FakeQueues(expected=45.4)
    service, published = await service_in("us", FakeAi(Analysis("en", "orders", 0.1)), queues)
    journey = Journey(journey_id="u1", flow="support", channel="chat", input="where is my order")
    step = await answering(service, "u1", CRM, service.start("acme", journey, "live"))

    assert queues.asked == ["us-support"]
    assert step.journey.attributes["wait"] == {"seconds": 45, "queue": "us-support"}
    assert step.journey.attributes["within_sla"] is True
    assert prompts(step) == ["welcome", "wait-time-announcement", "sla-promise"]
    assert [h.queue for _, h in published] == ["us-support"]


async def test_after_hours_the_us_journey_offers_a_callback() -> None:
    service, _ = await service_in("us", FakeAi(Analysis("en", "orders", 0.1)), FakeQueues(), clock=US_NIGHT)
    journey = Journey(journey_id="u2", flow="support", channel="chat", input="where is my order")
    step = await answering(service, "u2", CRM, service.start("acme", journey, "live"))
    assert prompts(step) == ["welcome", "after-hours"]
    assert [e.queue for e in step.effects if isinstance(e, ScheduleCallback)] == ["us-support"]
    assert (step.journey.status, step.journey.waiting_for) == ("waiting", "callback")


@pytest.mark.parametrize(
    ("waiting", "queue", "prompt"),
    [(60, "", "peak-deflection"), (30, "latam-overflow", "overflow-notice"), (3, "latam-support", "")],
)
async def test_latam_peak_logic_reads_the_queue_status(waiting: int, queue: str, prompt: str) -> None:
    service, published = await service_in(
        "latam", FakeAi(Analysis("pt", "billing", 0.0)), FakeQueues(waiting)
    )
    journey = Journey(journey_id="l1", flow="support", channel="chat", input="preciso de ajuda")
    step = await answering(service, "l1", CRM, service.start("acme", journey, "live"))
    assert step.journey.attributes["load"]["waiting"] == waiting
    assert prompts(step) == ["welcome", *([prompt] if prompt else [])]
    assert [h.queue for _, h in published] == ([queue] if queue else [])
    assert [(j.language, j.intent) for j, _ in published] == ([("pt", "billing")] if queue else [])


async def test_a_hand_off_without_ai_steps_still_learns_the_language() -> None:
    ai = FakeAi(Analysis("de", "orders", 0.0))
    files = files_with(("support.yaml", "  start: welcome\n", "  start: fraud-queue\n"))
    service, published = await service_in("eu", ai, files=files)
    journey = Journey(
        journey_id="d1",
        flow="support",
        channel="chat",
        input="Wo ist meine Bestellung?",
        text="Wo ist meine Bestellung?",
    )
    await service.start("acme", journey, "live")
    [(queued, hand_off)] = published
    assert (hand_off.queue, queued.language, queued.intent) == ("bank-fraud", "de", "orders")


async def test_without_ai_or_queues_the_journey_waits_for_its_driver_as_before() -> None:
    service, _ = await service_in("eu", None)
    step = await service.start("acme", Journey(journey_id="x1", flow="support", channel="chat"), "live")
    assert (step.journey.waiting_for, step.journey.node) == ("ai", "detect-intent")


PAYMENTS = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: pay}
spec: {queues: [billing], prompts: [thanks], integrations: [payment-confirmed], flows: [payments]}
---
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: payments}
spec:
  start: await-payment
  nodes:
    - {id: await-payment, kind: integration, integration: payment-confirmed, timeoutSeconds: 0.6,
       store: payment, next: thank, onFailure: unpaid}
    - {id: thank, kind: message, prompt: thanks, next: to-billing}
    - {id: to-billing, kind: queue, queue: billing}
    - {id: unpaid, kind: end, outcome: unpaid}
"""


async def test_a_wait_longer_than_the_call_is_stored_and_its_timer_takes_the_error_branch() -> None:
    service, _ = await service_in("eu", FakeAi())
    await service.publish_flow("acme", "payments", [("payments.yaml", PAYMENTS)])
    await service.set_alias("acme", "payments", "live", 1, 0, 0.0)
    # The caller gives this step 0.8 s: less than the node's 0.6 s wait plus the step's margin.
    current_deadline.set(time.monotonic() + 0.8)
    step = await service.start("acme", Journey(journey_id="p1", flow="payments", channel="chat"), "live")
    current_deadline.set(None)
    assert (step.journey.status, step.journey.waiting_for) == ("waiting", "integration")
    assert [type(e).__name__ for e in step.effects] == ["CallIntegration"]
    for _ in range(200):  # the timer fires after 0.6 s; 10 s at most
        if (await service.get("acme", "p1")).status == "ended":
            break
        await asyncio.sleep(0.05)
    assert (await service.get("acme", "p1")).outcome == {"kind": "end", "outcome": "unpaid"}
    await service.stop()


async def test_a_language_too_uncertain_to_route_by_is_not_learned() -> None:
    ai = FakeAi(Analysis("it", "out_of_scope", 0.0, language_reliable=False))
    files = files_with(("support.yaml", "  start: welcome\n", "  start: fraud-queue\n"))
    service, published = await service_in("eu", ai, files=files)
    await service.start(
        "acme", Journey(journey_id="h1", flow="support", channel="chat", text="hello"), "live"
    )
    [(queued, _)] = published
    assert queued.language == ""


async def test_a_language_step_on_too_little_text_takes_its_error_branch() -> None:
    ai = FakeAi(Analysis("it", "out_of_scope", 0.0, language_reliable=False))
    files = files_with(("support.yaml", "      task: intent\n", "      task: language\n"))
    service, _ = await service_in("eu", ai, files=files)
    step = await service.start(
        "acme", Journey(journey_id="h2", flow="support", channel="chat", input="hello"), "live"
    )
    assert (step.journey.node, step.journey.language) == ("menu", "")
    assert step.journey.errors[0]["node"] == "detect-intent"
