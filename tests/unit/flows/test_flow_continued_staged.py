"""A step routing runs by itself saves the JourneyContinued announcing it with the journey (the
record's outbox), so a crash before the publish delays it by a sweep instead of losing it; the
staged message is the very event the publisher sends (same id, so the stream keeps one)."""

from __future__ import annotations

import time
from pathlib import Path

from journey_fakes import FakeFlows, FakeJourneys, FakePolicies

from ccflow.effects import HandOff, IntegrationReply
from ccflow.journey import Journey
from ccmesh.outbox import Entry, entry_of_event
from ccmesh.rpc_context import current_deadline
from contactcenter.events.v1 import events_pb2
from routing.bootstrap import journey_continued
from routing.domain.journey_facts import QueueLoad
from routing.domain.wait_deadlines import WaitPoint
from routing.service_layer.journeys import Continued, JourneyService

FLOW = (
    (Path(__file__).resolve().parents[2] / "data" / "flows" / "payments.yaml")
    .read_text()
    .replace("WAIT", "600")
)


class FakeQueues:
    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return QueueLoad(0, 0.0, 1, 10.0)


def stage(continued: Continued) -> Entry:
    return entry_of_event(journey_continued("eu", continued), "eu", at=1000.0)


async def test_a_continued_step_is_saved_with_the_event_that_announces_it() -> None:
    journeys = FakeJourneys()
    published: list[events_pb2.Event] = []

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        return None

    async def publish_continued(continued: Continued) -> None:
        published.append(journey_continued("eu", continued))

    service = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        journeys,  # type: ignore[arg-type]
        "eu",
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        queues=FakeQueues(),
        publish_continued=publish_continued,
        stage_continued=stage,
    )
    await service.publish_flow("acme", "payments", [("payments.yaml", FLOW)])
    await service.set_alias("acme", "payments", "live", 1, 0, 0.0)
    reset = current_deadline.set(time.monotonic() + 0.3)
    try:
        started = await service.start(
            "acme", Journey(journey_id="p1", flow="payments", channel="sms"), "live"
        )
    finally:
        current_deadline.reset(reset)
    assert journeys.staged[("acme", "p1")] == []  # a step a caller drives is announced by the caller

    point = WaitPoint.of(started.journey)
    await service.continue_waiting("acme", "p1", IntegrationReply({"status": "ok"}), point, "flow_event")

    (staged,) = journeys.staged[("acme", "p1")]
    (sent,) = published
    event = events_pb2.Event.FromString(staged.data)
    assert staged.msg_id == sent.event_id == event.event_id
    assert event.journey_continued == sent.journey_continued
    assert staged.subject == "ccevt.eu.acme.journey_continued.p1"
