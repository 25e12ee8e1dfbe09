"""Long journey waits at integration nodes outlive the routing instance that began them.

Over in-memory stores shared by several JourneyService instances (as replicas share the region's
KV buckets): the deadline is stored with the journey and in the region's index, an instance
started later ends a wait already due, two instances end a wait once, a flow event taken by an
instance that did not run the step continues the journey and publishes the step's prompts and
hand-off, and a late event never continues a later wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from journey_fakes import FakeDeadlines, FakeFlows, FakeJourneys, FakePolicies, FakeRelay

from ccflow.effects import AwaitInput, HandOff, IntegrationReply, SendPrompt, Timeout
from ccflow.journey import Journey
from ccmesh.rpc_context import current_deadline
from routing.bootstrap import journey_continued
from routing.domain.journey_facts import Analysis, QueueLoad
from routing.domain.wait_deadlines import DeadlineHeap, WaitDeadline, WaitPoint
from routing.service_layer.journey_actions import JourneyActions
from routing.service_layer.journey_deadlines import DeadlineKeeper
from routing.service_layer.journeys import Continued, JourneyMoved, JourneyService, Step

PAYMENTS = (Path(__file__).resolve().parents[2] / "data" / "flows" / "payments.yaml").read_text()


class FakeAi:
    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis:
        return Analysis("en", "billing", 0.0)

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str:
        return ""


class FakeQueues:
    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return QueueLoad(0, 0.0, 1, 10.0)


class Region:
    """What the routing instances of one region share: stores, index, and what they publish."""

    def __init__(self) -> None:
        self.flows = FakeFlows()
        self.journeys = FakeJourneys()
        self.deadlines = FakeDeadlines()
        self.relay = FakeRelay()
        self.continued: list[Continued] = []
        #: Publications that fail before the stream takes one (a NATS hiccup).
        self.failing_publishes = 0
        self.queued: list[HandOff] = []
        self.instances: list[JourneyService] = []

    def instance(self, wall_clock: Callable[[], float] = time.time) -> JourneyService:
        async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
            self.queued.append(hand_off)

        async def publish_continued(continued: Continued) -> None:
            if self.failing_publishes:
                self.failing_publishes -= 1
                raise TimeoutError("nats: timeout")
            self.continued.append(continued)

        service = JourneyService(
            self.flows,  # type: ignore[arg-type]
            self.journeys,  # type: ignore[arg-type]
            "eu",
            publish_queued,
            FakePolicies(),  # type: ignore[arg-type]
            ai=FakeAi(),
            queues=FakeQueues(),
            deadlines=self.deadlines.instance(),
            publish_continued=publish_continued,
            wall_clock=wall_clock,
            flow_event_relay=self.relay,
        )
        self.instances.append(service)
        return service

    async def stop(self) -> None:
        for service in self.instances:
            await service.stop()


@pytest.fixture
async def region() -> Region:
    return Region()


async def waiting(service: JourneyService, contact: str, wait_seconds: float) -> Journey:
    """Publish the payments flow and start a journey that is stored waiting at its integration
    node (the caller's deadline is shorter than the node's wait)."""
    source = PAYMENTS.replace("WAIT", str(wait_seconds))
    await service.publish_flow("acme", "payments", [("payments.yaml", source)])
    await service.set_alias("acme", "payments", "live", 1, 0, 0.0)
    reset = current_deadline.set(time.monotonic() + 0.3)
    try:
        step = await service.start(
            "acme", Journey(journey_id=contact, flow="payments", channel="sms"), "live"
        )
    finally:
        current_deadline.reset(reset)
    assert (step.journey.status, step.journey.waiting_for) == ("waiting", "integration")
    return step.journey


async def ended(service: JourneyService, contact: str) -> Journey:
    for _ in range(400):  # 20 s at most; a bound, not a timing assertion
        journey = await service.get("acme", contact)
        if journey.status == "ended":
            return journey
        await asyncio.sleep(0.05)
    raise AssertionError(f"journey {contact} did not end")


async def settled(*services: JourneyService) -> None:
    """Until no instance holds a deadline any more (each has looked at the ones it held)."""
    for _ in range(400):
        if all(service.deadlines.pending == 0 for service in services):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deadlines still pending")


def prompts(continued: Continued) -> list[str]:
    return [e.prompt for e in continued.step.effects if isinstance(e, SendPrompt | AwaitInput)]


async def test_the_deadline_is_stored_with_the_journey_and_in_the_region_index(region: Region) -> None:
    service = region.instance()
    before = time.time()
    journey = await waiting(service, "p1", 600)
    stored = await service.get("acme", "p1")
    assert before + 600 <= stored.wait_until <= time.time() + 600
    assert list(region.deadlines.entries.values()) == [
        WaitDeadline(stored.wait_until, "acme", "p1", "await-payment", len(journey.path))
    ]
    await region.stop()


async def test_a_wait_outlives_its_instance_and_two_others_end_it_once_on_its_failure_branch(
    region: Region,
) -> None:
    first = region.instance()
    await waiting(first, "p2", 0.8)
    await first.stop()  # the instance that began the wait is gone before its deadline
    others = [region.instance(), region.instance()]
    for service in others:
        await service.start_deadlines()

    journey = await ended(others[0], "p2")
    await settled(*others)
    assert journey.outcome == {"kind": "end", "outcome": "unpaid"}
    assert journey.path.count("unpaid") == 1 and journey.wait_until == 0.0
    [continued] = region.continued
    assert (continued.cause, continued.point) == ("timeout", WaitPoint("await-payment", 1))
    assert prompts(continued) == ["payment-missing"]
    assert region.deadlines.entries == {}
    await region.stop()


async def test_an_instance_started_after_the_deadline_ends_the_wait_at_its_start(region: Region) -> None:
    # The first instance's clock runs 100 s late: to it the deadline (50 s) is still ahead.
    first = region.instance(wall_clock=lambda: time.time() - 100)
    await waiting(first, "p3", 50)
    await first.stop()
    assert (await first.get("acme", "p3")).wait_until < time.time()

    later = region.instance()
    await later.start_deadlines()
    journey = await ended(later, "p3")
    assert journey.outcome["outcome"] == "unpaid"
    assert [c.cause for c in region.continued] == ["timeout"]
    await region.stop()


async def test_a_flow_event_taken_by_another_instance_continues_the_journey_with_its_prompts(
    region: Region,
) -> None:
    first = region.instance()
    await first.start_deadlines()
    await waiting(first, "p4", 600)
    other = region.instance()
    await other.start_deadlines()
    actions = JourneyActions(other, region.journeys)  # type: ignore[arg-type]

    outcome = await actions.send_flow_event("acme", "p4", "payment_confirmed", {"status": "ok"})

    assert outcome.applied and outcome.journey is not None
    assert outcome.journey.attributes["payment"] == {"status": "ok"}
    [continued] = region.continued
    assert (continued.cause, continued.tenant) == ("flow_event", "acme")
    assert prompts(continued) == ["thanks"]
    assert [h.queue for h in region.queued] == ["billing"]
    assert [type(e) for e in continued.step.effects if isinstance(e, HandOff)] == [HandOff]
    # The wait is over: its deadline leaves the index and every instance's heap.
    assert region.deadlines.entries == {}
    await settled(first, other)
    again = await actions.send_flow_event("acme", "p4", "payment_confirmed", {"status": "ok"})
    assert not again.applied and "is ended" in again.detail
    assert len(region.continued) == 1
    await region.stop()


async def test_a_step_whose_publication_failed_is_published_again(region: Region) -> None:
    service = region.instance()
    journey = await waiting(service, "p8", 600)
    region.failing_publishes = 2
    reply = IntegrationReply({"status": "ok"})
    await service.continue_waiting("acme", "p8", reply, WaitPoint.of(journey), "flow_event")
    assert [prompts(c) for c in region.continued] == [["thanks"]]
    await region.stop()


async def test_a_late_event_never_continues_a_later_wait(region: Region) -> None:
    service = region.instance()
    journey = await waiting(service, "p5", 600)
    point = WaitPoint.of(journey)
    await service.continue_waiting("acme", "p5", IntegrationReply({"status": "ok"}), point, "flow_event")
    with pytest.raises(JourneyMoved, match="no longer waits at node 'await-payment'"):
        await service.continue_waiting("acme", "p5", Timeout(), point, "timeout")
    assert [c.cause for c in region.continued] == ["flow_event"]
    assert (await service.get("acme", "p5")).outcome["queue"] == "billing"
    await region.stop()


async def test_a_flow_event_taken_by_another_instance_reaches_the_step_waiting_in_a_call(
    region: Region,
) -> None:
    first = region.instance()
    await first.publish_flow("acme", "payments", [("payments.yaml", PAYMENTS.replace("WAIT", "20"))])
    await first.set_alias("acme", "payments", "live", 1, 0, 0.0)
    journey = Journey(journey_id="p6", flow="payments", channel="sms")
    # The caller gives the step 30 s: it waits for the payment system in the call.
    current_deadline.set(time.monotonic() + 30)
    step = asyncio.ensure_future(first.start("acme", journey, "live"))
    current_deadline.set(None)
    actions = JourneyActions(region.instance(), region.journeys)  # type: ignore[arg-type]

    async def offered() -> str:
        for _ in range(400):
            outcome = await actions.send_flow_event("acme", "p6", "payment-confirmed", {"status": "ok"})
            if outcome.applied:
                return outcome.detail
            await asyncio.sleep(0.05)  # the step has not reached the node yet
        raise AssertionError("no step took the event")

    assert await offered() == "handed to the step waiting at node 'await-payment'"
    done = await step
    # The caller that drives the step gets its prompts: nothing for routing to publish.
    assert [e.prompt for e in done.effects if isinstance(e, SendPrompt)] == ["thanks"]
    assert done.journey.attributes["payment"] == {"status": "ok"}
    assert region.continued == [] and [h.queue for h in region.queued] == ["billing"]
    assert region.relay.listeners == {}
    await region.stop()


class FlakyJourneys(FakeJourneys):
    """The journeys bucket, unreachable for the next `failures` reads."""

    failures = 0

    async def get(self, tenant: str, journey_id: str) -> tuple[Journey, int] | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("nats: no servers available")
        return await super().get(tenant, journey_id)


async def test_a_wait_whose_ending_failed_is_ended_later(region: Region) -> None:
    region.journeys = FlakyJourneys()
    service = region.instance()
    await service.start_deadlines()
    await waiting(service, "p7", 0.5)
    region.journeys.failures = 1  # the store is away when the deadline comes
    for _ in range(400):  # read past the flaky reads: the keeper alone meets the failure
        if region.journeys.records[("acme", "p7")][0]["status"] == "ended":
            break
        await asyncio.sleep(0.05)
    assert region.journeys.failures == 0
    assert region.journeys.records[("acme", "p7")][0]["outcome"]["outcome"] == "unpaid"
    assert [c.cause for c in region.continued] == ["timeout"]
    await settled(service)
    assert region.deadlines.entries == {}
    await region.stop()


def deadline(due: float, journey: str, step: int = 0) -> WaitDeadline:
    return WaitDeadline(due, "acme", journey, "wait", step)


def test_the_heap_gives_due_deadlines_in_order_and_only_the_current_one_per_journey() -> None:
    heap = DeadlineHeap()
    heap.arm(deadline(30, "a"))
    heap.arm(deadline(10, "b"))
    heap.arm(deadline(20, "c"))
    heap.arm(deadline(5, "a", step=2))  # journey a waits elsewhere now: its first deadline is gone
    heap.disarm("acme", "c")
    assert heap.next_due() == 5
    assert heap.pop_due(10) == [deadline(5, "a", step=2), deadline(10, "b")]
    assert heap.pop_due(100) == [] and len(heap) == 0


def test_dropping_a_deadline_leaves_a_newer_one_of_the_same_journey() -> None:
    heap = DeadlineHeap()
    heap.arm(deadline(10, "a"))
    heap.arm(deadline(50, "a", step=3))
    heap.drop(deadline(10, "a"))
    assert heap.pop_due(60) == [deadline(50, "a", step=3)]


def test_a_continued_step_is_published_once_per_wait_with_its_actions() -> None:
    journey = Journey(journey_id="c9", flow="payments", brand="acme-retail", language="es")
    journey.status, journey.path = "ended", ["await-payment", "thank", "to-billing"]
    effects = [SendPrompt("thank", "thanks"), HandOff("to-billing", "billing", 0, {})]
    continued = Continued("acme", "flow_event", WaitPoint("await-payment", 1), Step(journey, effects))
    event = journey_continued("eu", continued)
    payload = event.journey_continued
    assert (event.source, event.contact_id, event.region, event.tenant.brand_id) == (
        "routing",
        "c9",
        "eu",
        "acme-retail",
    )
    assert [(a.kind, a.name) for a in payload.actions] == [("send_prompt", "thanks"), ("hand_off", "billing")]
    assert (payload.cause, payload.node, payload.status, payload.language) == (
        "flow_event",
        "await-payment",
        "ended",
        "es",
    )
    # The same wait ended again (a retried step, another instance) has the same id: one delivery.
    again = journey_continued(
        "eu", Continued("acme", "timeout", WaitPoint("await-payment", 1), Step(journey, []))
    )
    later = journey_continued(
        "eu", Continued("acme", "timeout", WaitPoint("await-payment", 5), Step(journey, []))
    )
    assert again.event_id == event.event_id != later.event_id


async def test_a_keeper_stopping_as_a_deadline_is_armed_stops() -> None:
    """The arm wakes the keeper's loop in the same turn as `stop` cancels it: the loop must end,
    not take the wake for its answer and sleep on (Python 3.11's `wait_for` did that)."""

    async def end(deadline: WaitDeadline) -> None:
        raise AssertionError("nothing is due")

    keeper = DeadlineKeeper(None, end, longest_sleep=60.0)
    keeper.arm(WaitDeadline(time.time() + 3600, "acme", "j0", "await-payment", 1))
    await asyncio.sleep(0.01)  # the loop sleeps until the far deadline
    keeper.arm(WaitDeadline(time.time() + 3600, "acme", "j1", "await-payment", 1))
    stopping = asyncio.create_task(keeper.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5.0)  # a bound: a stuck stop never returns
    assert stopping in done, "the keeper did not stop"
    assert keeper.pending == 2
