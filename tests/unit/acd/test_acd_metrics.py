"""The ACD's metrics from its working set and its events: contacts that leave routing counted by
channel and outcome, and an empty configured queue reported as zero, not as no data."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from ccmesh.channels import Channel
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.events import (
    ContactAbandoned,
    ContactAccepted,
    ContactCompleted,
    ContactHandedOver,
    ContactQueued,
    ContactTurnedAway,
    OfferWithdrawn,
)
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.working_set import WorkingSet
from routing.service_layer.acd_metrics import AcdMetrics

TENANT = "acme"


def points(reader: InMemoryMetricReader, name: str) -> dict[frozenset[tuple[str, Any]], float]:
    found: dict[frozenset[tuple[str, Any]], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        assert isinstance(point, NumberDataPoint)
                        found[frozenset((point.attributes or {}).items())] = float(point.value)
    return found


def record(
    contact_id: str, channel: Channel, queue: str = "support", enqueued_at: float = 100.0
) -> ContactRecord:
    return ContactRecord(WaitingContact(contact_id, queue, channel, 50, enqueued_at), ContactStatus.WAITING)


def metrics(mirror: WorkingSet, now: float = 130.0) -> tuple[AcdMetrics, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    return AcdMetrics(mirror, meter, clock=lambda: now), reader  # type: ignore[arg-type]


def test_contacts_leaving_routing_are_counted_by_channel_and_outcome() -> None:
    acd, reader = metrics(WorkingSet())
    sms, chat, voice = record("c1", Channel.SMS), record("c2", Channel.WEBCHAT), record("c3", Channel.VOICE)
    for event in (
        ContactQueued(TENANT, sms),
        ContactAccepted(TENANT, sms),
        ContactCompleted(TENANT, sms),
        OfferWithdrawn(TENANT, chat, "contact_closed"),
        ContactTurnedAway(TENANT, voice, "We are closed"),
        ContactHandedOver(TENANT, chat, "rule", "us", "support", "depth"),
        ContactCompleted(TENANT, record("c4", Channel.SMS)),
        ContactAbandoned(TENANT, record("c5", Channel.VOICE)),
    ):
        acd.count(event)

    def key(channel: str, outcome: str) -> frozenset[tuple[str, Any]]:
        return frozenset(
            {"tenant": TENANT, "queue": "support", "channel": channel, "outcome": outcome}.items()
        )

    # Queued and accepted are steps on the way, not where a contact ends.
    assert points(reader, "contactcenter.contacts") == {
        key("sms", "completed"): 2,
        key("webchat", "abandoned"): 1,
        key("voice", "turned_away"): 1,
        key("voice", "abandoned"): 1,
        key("webchat", "handed_over"): 1,
    }


def test_an_empty_configured_queue_reads_zero_and_a_waiting_one_its_depth_and_wait() -> None:
    mirror = WorkingSet()
    mirror.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
    mirror.queues[(TENANT, "sales")] = QueueSpec(TENANT, "sales")
    mirror.put_contact(TENANT, "c1", record("c1", Channel.SMS, "sales", enqueued_at=100.0))
    mirror.put_contact(TENANT, "c2", record("c2", Channel.SMS, "sales", enqueued_at=110.0))
    _, reader = metrics(mirror, now=130.0)
    depth = points(reader, "contactcenter.queue.depth")
    wait = points(reader, "contactcenter.queue.longest_wait")
    support = frozenset({"tenant": TENANT, "queue": "support"}.items())
    sales = frozenset({"tenant": TENANT, "queue": "sales"}.items())
    assert depth == {support: 0, sales: 2}
    assert wait == {support: 0.0, sales: 30.0}
