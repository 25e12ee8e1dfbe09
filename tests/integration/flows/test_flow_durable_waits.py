"""Long journey waits survive the routing instance that began them, on a real NATS JetStream.

JourneyService instances share the region's real KV buckets (flows, journeys and the index of
deadlines in it), as routing replicas do: a journey stored waiting at a long integration node
outlives its instance (a new one arms the pending deadline from KV and ends the wait onto the
node's failure branch, once, while two instances try), and a flow event taken by an instance that
did not run the step continues the journey, publishes its prompts and hand-off, and clears the
deadline on every instance.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import KeyNotFoundError

from ccflow.effects import AwaitInput, HandOff, SendPrompt
from ccflow.journey import Journey
from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.rpc_context import current_deadline
from routing.adapters.flow_event_relay import NatsFlowEventRelay
from routing.adapters.flow_store import DeadlineStore, FlowStore, JourneyStore, PolicyStore
from routing.domain.journey_facts import QueueLoad
from routing.service_layer.journey_actions import JourneyActions
from routing.service_layer.journeys import Continued, JourneyService

pytestmark = pytest.mark.timeout(60)

PAYMENTS = (Path(__file__).resolve().parents[2] / "data" / "flows" / "payments.yaml").read_text()


class GivenQueues:
    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return QueueLoad(0, 0.0, 1, 10.0)


class Region:
    """Routing instances of the eu region over the same buckets, and what they publish."""

    def __init__(self, nc: NATS, flows: Any, journeys: Any) -> None:
        self.nc, self.flows_kv, self.journeys_kv = nc, flows, journeys
        self.continued: list[Continued] = []
        self.queued: list[HandOff] = []
        self.instances: list[JourneyService] = []

    def instance(self) -> JourneyService:
        async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
            self.queued.append(hand_off)

        async def publish_continued(continued: Continued) -> None:
            self.continued.append(continued)

        service = JourneyService(
            FlowStore(self.flows_kv),
            JourneyStore(self.journeys_kv),
            "eu",
            publish_queued,
            PolicyStore(self.flows_kv),
            queues=GivenQueues(),
            deadlines=DeadlineStore(self.journeys_kv),
            publish_continued=publish_continued,
            flow_event_relay=NatsFlowEventRelay(self.nc, "eu"),
        )
        self.instances.append(service)
        return service

    async def due_entry(self, contact: str) -> bytes | None:
        try:
            entry = await self.journeys_kv.get(f"due.acme.{contact}")
        except KeyNotFoundError:
            return None
        return entry.value or None


@pytest.fixture
async def region(nc: NATS) -> Any:
    js = nc.jetstream()
    running = Region(
        nc,
        await ensure_bucket(js, naming.flows_bucket("eu")),
        await ensure_bucket(js, naming.journeys_bucket("eu")),
    )
    try:
        yield running
    finally:
        for service in running.instances:
            await service.stop()


async def publish_payments(service: JourneyService, wait_seconds: float) -> None:
    source = PAYMENTS.replace("WAIT", str(wait_seconds))
    version, _, _ = await service.publish_flow("acme", "payments", [("payments.yaml", source)])
    await service.set_alias("acme", "payments", "live", version, 0, 0.0)


async def start_waiting(service: JourneyService, contact: str) -> Journey:
    """Start a journey whose caller's deadline is shorter than the node's wait: it is stored."""
    reset = current_deadline.set(time.monotonic() + 0.3)
    try:
        journey = Journey(journey_id=contact, flow="payments", channel="sms")
        step = await service.start("acme", journey, "live")
    finally:
        current_deadline.reset(reset)
    assert (step.journey.status, step.journey.waiting_for) == ("waiting", "integration")
    return step.journey


async def until(probe: Any, what: str) -> Any:
    for _ in range(400):  # 20 s at most: a bound, not a timing assertion
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def prompts(continued: Continued) -> list[str]:
    return [e.prompt for e in continued.step.effects if isinstance(e, SendPrompt | AwaitInput)]


async def test_a_wait_survives_a_restart_and_ends_once_on_its_failure_branch(region: Region) -> None:
    first = region.instance()
    await first.start_deadlines()
    await publish_payments(first, 1.5)
    await start_waiting(first, "pay-1")
    assert await region.due_entry("pay-1") is not None
    await first.stop()  # gone before the deadline: its in-memory heap with it

    # Two new instances (a restart, and a replica) arm the deadline from KV; one ends the wait.
    others = [region.instance(), region.instance()]
    for service in others:
        await service.start_deadlines()
    assert [service.deadlines.pending for service in others] == [1, 1]

    async def ended() -> Journey | None:
        journey = await others[1].get("acme", "pay-1")
        return journey if journey.status == "ended" else None

    journey = await until(ended, "the journey ended")
    # The winner tells the channel after its save and after dropping the deadline from the
    # index, so the journey reads as ended (and both instances as settled) a moment before.
    await until(_told(region), "the step's prompts were published")
    await until(
        lambda: _all_settled(others),
        "every instance looked at the deadline",
    )
    assert journey.outcome == {"kind": "end", "outcome": "unpaid"}
    assert journey.path == ["await-payment", "unpaid", "stop"]
    [continued] = region.continued
    assert continued.cause == "timeout" and prompts(continued) == ["payment-missing"]
    assert await region.due_entry("pay-1") is None


def _told(region: Region) -> Any:
    async def probe() -> bool:
        return bool(region.continued)

    return probe


async def _all_settled(services: list[JourneyService]) -> bool:
    return all(service.deadlines.pending == 0 for service in services)


async def test_a_flow_event_taken_by_the_other_instance_sends_the_steps_prompts_and_hand_off(
    region: Region,
) -> None:
    first = region.instance()
    await first.start_deadlines()
    await publish_payments(first, 600)
    await start_waiting(first, "pay-2")
    other = region.instance()
    await other.start_deadlines()
    assert other.deadlines.pending == 1  # armed from the index, though another instance wrote it

    actions = JourneyActions(other, JourneyStore(region.journeys_kv))
    outcome = await actions.send_flow_event("acme", "pay-2", "payment_confirmed", {"status": "ok"})

    assert outcome.applied and outcome.journey is not None
    assert outcome.journey.path == ["await-payment", "thank", "to-billing"]
    [continued] = region.continued
    assert (continued.cause, prompts(continued)) == ("flow_event", ["thanks"])
    assert [hand_off.queue for hand_off in region.queued] == ["billing"]
    # The wait is over: its deadline leaves KV, and the watch disarms it on both instances.
    assert await region.due_entry("pay-2") is None
    await until(lambda: _all_settled([first, other]), "both instances disarmed the deadline")


async def test_an_instance_arms_every_pending_deadline_of_the_region_at_start(region: Region) -> None:
    first = region.instance()
    await publish_payments(first, 600)
    for contact in ("pay-3", "pay-4", "pay-5"):
        await start_waiting(first, contact)
    await first.stop()
    later = region.instance()
    await later.start_deadlines()
    assert later.deadlines.pending == 3


async def test_a_flow_event_taken_by_another_instance_reaches_the_step_waiting_in_its_call(
    region: Region,
) -> None:
    first = region.instance()
    await publish_payments(first, 20)
    # The caller gives the step 30 s: it waits for the payment system inside the call.
    current_deadline.set(time.monotonic() + 30)
    step = asyncio.ensure_future(first.start("acme", Journey(journey_id="pay-6", flow="payments"), "live"))
    current_deadline.set(None)
    actions = JourneyActions(region.instance(), JourneyStore(region.journeys_kv))

    async def taken() -> str | None:
        outcome = await actions.send_flow_event("acme", "pay-6", "payment_confirmed", {"status": "ok"})
        return outcome.detail if outcome.applied else None

    assert await until(taken, "the waiting step took the event") == (
        "handed to the step waiting at node 'await-payment'"
    )
    done = await step
    assert [e.prompt for e in done.effects if isinstance(e, SendPrompt)] == ["thanks"]
    assert done.journey.path == ["await-payment", "thank", "to-billing"]
    # Once the step is over nobody listens: an offer finds no responders and is not taken.
    relay = NatsFlowEventRelay(region.nc, "eu")
    assert await relay.offer("acme", "pay-6", "payment_confirmed", {"status": "ok"}) == ""
