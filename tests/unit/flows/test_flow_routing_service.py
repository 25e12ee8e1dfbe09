"""Routing's journey use cases over in-memory stores: metrics per node and version, hand-off records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from journey_fakes import FakeFlows, FakeJourneys, FakePolicies
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ccflow.effects import AiResult, HandOff, IntegrationReply
from ccflow.errors import FlowError
from ccflow.journey import Journey
from ccflow.loader import read_sources
from routing.service_layer.journeys import JourneyService

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"
US_DAY = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def setup() -> tuple[JourneyService, InMemoryMetricReader, list[tuple[str, HandOff]], FakeJourneys]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    published: list[tuple[str, HandOff]] = []

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        published.append((journey.journey_id, hand_off))

    journeys = FakeJourneys()
    service = JourneyService(
        FakeFlows(),  # type: ignore[arg-type]
        journeys,  # type: ignore[arg-type]
        "us",
        publish_queued,
        FakePolicies(),  # type: ignore[arg-type]
        clock=lambda: US_DAY,
        meter=provider.get_meter("test"),
    )
    return service, reader, published, journeys


def points(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, int], int]:
    data = reader.get_metrics_data()
    found: dict[tuple[str, int], int] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        attributes = point.attributes or {}
                        found[(str(attributes["node"]), int(attributes["version"]))] = int(point.value)
    return found


async def test_executions_and_errors_are_counted_per_node_and_version(setup) -> None:  # type: ignore[no-untyped-def]
    service, reader, published, _ = setup
    files = read_sources([EXAMPLES])
    version, created, _ = await service.publish_flow("acme", "support", files)
    assert (version, created) == (1, True)
    await service.set_alias("acme", "support", "live", 1, 0, 0.0)
    for n in range(3):
        await service.start("acme", Journey(journey_id=f"c{n}", flow="support", channel="voice"), "live")
        for event in (AiResult("billing"), AiResult(0.0), IntegrationReply({}), IntegrationReply({})):
            await service.resume("acme", f"c{n}", event)
        step = await service.resume(
            "acme", f"c{n}", IntegrationReply({"minutes": 4})
        )  # no `seconds`: SLA fails
        assert step.journey.outcome["queue"] == "us-support"
    executions = points(reader, "contactcenter.flow.node.executions")
    assert executions[("welcome", 1)] == 3
    assert executions[("us-sla", 1)] == 3
    assert points(reader, "contactcenter.flow.node.errors") == {("us-sla", 1): 6}
    assert [(contact, hand_off.queue) for contact, hand_off in published] == [
        ("c0", "us-support"),
        ("c1", "us-support"),
        ("c2", "us-support"),
    ]


async def test_a_rejected_publish_stores_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, _, _ = setup
    files = read_sources([EXAMPLES])
    await service.publish_flow("acme", "support", files)
    broken = [(name, text.replace("queue: eu-support", "queue: eu-suport")) for name, text in files]
    with pytest.raises(FlowError, match="node 'to-queue': unknown queue 'eu-suport'"):
        await service.publish_flow("acme", "support", broken)
    stored, index = await service.get_version("acme", "support", 1, "")
    assert index.latest == 1 and stored.files == sorted(files)


def mini_bundle(name: str, nodes: str) -> list[tuple[str, str]]:
    catalog = (
        "apiVersion: contactcenter.dev/v1alpha1\nkind: FlowCatalog\nmetadata: {name: mini}\n"
        "spec: {queues: [billing-team], prompts: [hello], flows: [entry, billing]}\n"
    )
    flow = (
        f"apiVersion: contactcenter.dev/v1alpha1\nkind: Flow\nmetadata: {{name: {name}}}\n"
        f"spec:\n  start: first\n  nodes:\n{nodes}"
    )
    return [("catalog.yaml", catalog), (f"{name}.yaml", flow)]


async def test_transfer_to_flow_continues_the_contact_in_the_live_version_of_the_other_flow(setup) -> None:  # type: ignore[no-untyped-def]
    service, reader, published, _ = setup
    entry = (
        "    - {id: first, kind: set, attributes: {topic: invoice}, next: go}\n"
        "    - {id: go, kind: transfer-flow, flow: billing}\n"
    )
    billing = (
        "    - {id: first, kind: priority, delta: 3, next: queue}\n"
        "    - {id: queue, kind: queue, queue: billing-team}\n"
    )
    for name, nodes in (("entry", entry), ("billing", billing)):
        version, _, _ = await service.publish_flow("acme", name, mini_bundle(name, nodes))
        await service.set_alias("acme", name, "live", version, 0, 0.0)
    step = await service.start("acme", Journey(journey_id="c9", flow="entry", channel="chat", priority=2), "")
    journey = step.journey
    assert (journey.flow, journey.version, journey.status) == ("billing", 1, "ended")
    assert journey.path == ["first", "go", "flow:billing@1", "first", "queue"]
    assert journey.outcome == {
        "kind": "queue",
        "queue": "billing-team",
        "priority": 5,
        "attributes": {"topic": "invoice"},
    }
    assert [(c, h.queue) for c, h in published] == [("c9", "billing-team")]
    executions = {(key[0], key[1]) for key in points(reader, "contactcenter.flow.node.executions")}
    assert executions == {("first", 1), ("go", 1), ("queue", 1)}


async def test_transfer_to_a_flow_without_a_live_alias_ends_the_journey_there(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, published, _ = setup
    nodes = "    - {id: first, kind: transfer-flow, flow: billing}\n"
    await service.publish_flow("acme", "entry", mini_bundle("entry", nodes))
    await service.set_alias("acme", "entry", "live", 1, 0, 0.0)
    step = await service.start("acme", Journey(journey_id="c10", flow="entry", channel="chat"), "")
    assert step.journey.outcome == {"kind": "flow", "flow": "billing"}
    assert published == []
