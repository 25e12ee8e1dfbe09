"""A journey step routing runs by itself (a flow event reached a stored wait): the instance that
saved the step dies before publishing its JourneyContinued. The event still reaches the stream,
exactly once, a sweep later, sent by the sweeper of the region's journeys bucket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccflow.effects import HandOff
from ccflow.journey import Journey
from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Entry, Outbox, entries_of, entry_of_event, js_publisher
from ccmesh.rpc_context import current_deadline
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore
from routing.bootstrap import journey_continued
from routing.domain.journey_facts import QueueLoad
from routing.service_layer.journey_actions import JourneyActions
from routing.service_layer.journeys import Continued, JourneyService

from ._steps import REGION, SWEEP_AFTER, TENANT, Crashed, event_subject, marked, region_streams, stored

pytestmark = pytest.mark.timeout(60)

FLOW = (
    (Path(__file__).resolve().parents[2] / "data" / "flows" / "payments.yaml")
    .read_text()
    .replace("WAIT", "600")
)


class GivenQueues:
    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return QueueLoad(0, 0.0, 1, 10.0)


def stage(continued: Continued) -> Entry:
    return entry_of_event(journey_continued(REGION, continued), REGION, at=time.time())


def instance(flows: KeyValue, journeys: KeyValue, publish_continued: Any) -> JourneyService:
    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        return None

    return JourneyService(
        FlowStore(flows),
        JourneyStore(journeys),
        REGION,
        publish_queued,
        PolicyStore(flows),
        queues=GivenQueues(),
        publish_continued=publish_continued,
        stage_continued=stage,
    )


@pytest.fixture
async def buckets(nc: NATS) -> AsyncIterator[tuple[KeyValue, KeyValue, Outbox]]:
    js = nc.jetstream()
    await region_streams(js)
    flows = await ensure_bucket(js, naming.flows_bucket(REGION))
    journeys = await ensure_bucket(js, naming.journeys_bucket(REGION))
    # Another instance's sweeper of the journeys bucket.
    outbox = Outbox(journeys, js_publisher(js), after_seconds=SWEEP_AFTER)
    await outbox.start(markers=True)
    try:
        yield flows, journeys, outbox
    finally:
        await outbox.stop()


async def waiting_journey(service: JourneyService, contact: str) -> None:
    version, _, _ = await service.publish_flow(TENANT, "payments", [("payments.yaml", FLOW)])
    await service.set_alias(TENANT, "payments", "live", version, 0, 0.0)
    # The caller's deadline is shorter than the node's wait: the journey is stored waiting.
    reset = current_deadline.set(time.monotonic() + 0.3)
    try:
        step = await service.start(
            TENANT, Journey(journey_id=contact, flow="payments", channel="sms"), "live"
        )
    finally:
        current_deadline.reset(reset)
    assert (step.journey.status, step.journey.waiting_for) == ("waiting", "integration")


async def test_a_continued_step_whose_instance_dies_before_announcing_it_arrives_once(
    nc: NATS, buckets: tuple[KeyValue, KeyValue, Outbox]
) -> None:
    flows, journeys, outbox = buckets
    js = nc.jetstream()

    async def dies(continued: Continued) -> None:
        raise Crashed("gone before publishing JourneyContinued")

    dying = instance(flows, journeys, dies)
    await waiting_journey(dying, "pay-1")
    actions = JourneyActions(dying, JourneyStore(journeys))
    with pytest.raises(Crashed):
        await actions.send_flow_event(TENANT, "pay-1", "payment_confirmed", {"status": "ok"})
    # The step is saved (it will not run again) and nothing announced it.
    assert (await dying.get(TENANT, "pay-1")).path == ["await-payment", "thank", "to-billing"]
    continued = event_subject("journey_continued", "pay-1")

    async def sent_and_removed() -> bool:
        entry = await journeys.get(f"{TENANT}.pay-1")
        swept = not entries_of(entry.value) and not await marked(journeys, f"{TENANT}.pay-1")
        return await stored(js, continued) >= 1 and swept

    await eventually(sent_and_removed)
    assert await stored(js, continued) == 1
    # The journey reads as before the sweep, and its next step is not held up by it.
    assert (await dying.get(TENANT, "pay-1")).path == ["await-payment", "thank", "to-billing"]
    assert outbox.sent == 1
