"""Routing tells a journey's end once, from the step that ends it: the nodes it visited in order
and how it ended (a queue, an end node), with its start time and alias; a step that leaves the
journey waiting tells nothing, and the event id is fixed per journey (a retried step repeats it)."""

from __future__ import annotations

import pytest
from journey_fakes import FakeFlows, FakeJourneys, FakePolicies

from ccflow.effects import HandOff, Input
from ccflow.executor import JourneyError
from ccflow.journey import Journey
from contactcenter.events.v1 import events_pb2
from routing.adapters.journey_end_event import journey_ended
from routing.service_layer.journeys import JourneyService

FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: triage}
spec:
  queues: [support]
  prompts: [hello]
  flows: [triage]
---
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: triage}
spec:
  start: greet
  nodes:
    - {id: greet, kind: message, prompt: hello, next: ask}
    - {id: ask, kind: collect, prompt: hello, store: choice, next: route, onFailure: gave-up}
    - id: route
      kind: condition
      branches:
        - {when: 'input == "1"', next: to-support}
      default: done
    - {id: to-support, kind: queue, queue: support}
    - {id: done, kind: end, outcome: completed}
    - {id: gave-up, kind: end, outcome: abandoned}
"""


@pytest.fixture
async def service() -> tuple[JourneyService, list[events_pb2.Event]]:
    told: list[events_pb2.Event] = []
    clock = iter([1000.0, 2000.0])

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        return None

    async def publish_ended(tenant: str, journey: Journey) -> None:
        told.append(journey_ended("eu", tenant, journey, 1012.5))

    journeys = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        FakeJourneys(),  # type: ignore[arg-type]
        "eu",
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        publish_ended=publish_ended,
        wall_clock=lambda: next(clock),
    )
    await journeys.publish_flow("acme", "triage", [("triage.yaml", FLOW)])
    await journeys.set_alias("acme", "triage", "live", 1, 0, 0.0)
    return journeys, told


async def test_the_step_that_ends_a_journey_tells_its_path_once(
    service: tuple[JourneyService, list[events_pb2.Event]],
) -> None:
    journeys, told = service
    await journeys.start("acme", Journey(journey_id="c1", flow="triage", channel="sms", brand="b1"), "live")
    assert told == []  # waiting for the customer: not ended
    await journeys.resume("acme", "c1", Input("1"))
    (event,) = told
    ended = event.journey_ended
    assert (ended.flow, ended.version, ended.alias) == ("triage", 1, "live")
    assert list(ended.path) == ["greet", "ask", "route", "to-support"]
    assert (ended.end_node, ended.outcome, ended.queue, ended.truncated) == (
        "to-support",
        "handed_off",
        "support",
        False,
    )
    assert (ended.started_at, ended.duration_seconds) == (1000.0, 12.5)
    assert (event.contact_id, event.tenant.tenant_id, event.tenant.brand_id) == ("c1", "acme", "b1")
    # An ended journey takes no further step, so nothing more is told.
    with pytest.raises(JourneyError):
        await journeys.resume("acme", "c1", Input("1"))
    assert len(told) == 1


async def test_an_end_node_names_the_outcome_and_the_event_id_is_fixed_per_journey(
    service: tuple[JourneyService, list[events_pb2.Event]],
) -> None:
    journeys, told = service
    await journeys.start("acme", Journey(journey_id="c2", flow="triage", channel="sms"), "live")
    step = await journeys.resume("acme", "c2", Input("2"))
    (event,) = told
    assert (event.journey_ended.end_node, event.journey_ended.outcome) == ("done", "completed")
    assert list(event.journey_ended.path) == ["greet", "ask", "route", "done"]
    again = journey_ended("eu", "acme", step.journey, 1013.0)
    assert again.event_id == event.event_id
    other = journey_ended("eu", "acme", Journey(journey_id="c3", flow="triage"), 1013.0)
    assert other.event_id != event.event_id
