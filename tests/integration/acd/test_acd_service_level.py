"""Service-level targets per queue and channel: the measured level over a window from real
offers and accepts in the bucket, in GetQueueStats' use case and in the OTel gauge."""

from __future__ import annotations

from typing import Any

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, ServiceLevelTarget, WaitingContact
from routing.service_layer.acd import AcdService, AcdSettings
from routing.service_layer.acd_metrics import AcdMetrics

from ._harness import TENANT, start_instance, stop_instance

pytestmark = pytest.mark.timeout(60)


def gauge_points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    found: dict[tuple[tuple[str, Any], ...], float] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        assert isinstance(point, NumberDataPoint)  # a gauge
                        found[tuple(sorted((point.attributes or {}).items()))] = float(point.value)
    return found


async def offered(acd: AcdService, contact_id: str) -> ContactRecord:
    async def probe() -> ContactRecord | None:
        await acd.route_pass()
        record = acd.mirror.contacts.get((TENANT, contact_id))
        return record if record is not None and record.status is ContactStatus.OFFERED else None

    result: ContactRecord = await eventually(probe)
    return result


async def test_measured_service_level_per_channel_against_its_target(nats_url: str, nc: NATS) -> None:
    instance = await start_instance(nats_url, AcdSettings(300.0, 3600, 0.1, region="eu"), run=False)
    base = instance.service
    clock = [1000.0]
    acd = AcdService(base.store, base.mirror, base.settings, clock=lambda: clock[0])
    reader = InMemoryMetricReader()
    AcdMetrics(acd.mirror, MeterProvider(metric_readers=[reader]).get_meter("test"), clock=lambda: clock[0])
    try:
        await acd.start()
        await acd.configure_queue(
            QueueSpec(
                TENANT,
                "support",
                service_level={Channel.VOICE: ServiceLevelTarget(0.5, 10.0)},
                default_service_level=ServiceLevelTarget(0.8, 20.0),
            )
        )
        await acd.upsert_agent(TENANT, AgentProfile("chatter", capacity={Channel.WEBCHAT: 1}))
        await acd.upsert_agent(TENANT, AgentProfile("caller", capacity={Channel.VOICE: 1}))
        for agent in ("chatter", "caller"):
            await acd.set_agent_state(TENANT, agent, AgentState.AVAILABLE)
        for contact_id, channel in (
            ("chat1", Channel.WEBCHAT),
            ("chat2", Channel.WEBCHAT),
            ("voice1", Channel.VOICE),
        ):
            await acd.enqueue(TENANT, WaitingContact(contact_id, "support", channel, 50, 1000.0))

        chat1, voice1 = await offered(acd, "chat1"), await offered(acd, "voice1")
        clock[0] = 1005.0
        await acd.accept(TENANT, "chatter", chat1.reservation_id)  # 5 s: within 20 s
        clock[0] = 1008.0
        await acd.accept(TENANT, "caller", voice1.reservation_id)  # 8 s: within voice's 10 s
        await acd.complete(TENANT, "chatter", chat1.reservation_id)
        chat2 = await offered(acd, "chat2")
        clock[0] = 1030.0
        await acd.accept(TENANT, "chatter", chat2.reservation_id)  # 30 s: late
        await acd.enqueue(TENANT, WaitingContact("voice2", "support", Channel.VOICE, 50, 1040.0))
        clock[0] = 1060.0  # voice2 has waited 20 s, unanswered: past voice's 10 s, not past 20 s

        async def settled() -> bool:
            records = [acd.mirror.record(TENANT, c) for c in ("chat1", "chat2", "voice1", "voice2")]
            return all(r is not None for r in records) and [r.status for r in records if r] == [
                ContactStatus.CLOSED,
                ContactStatus.ASSIGNED,
                ContactStatus.ASSIGNED,
                ContactStatus.WAITING,
            ]

        await eventually(settled)
        voice = await acd.queue_stats(TENANT, "support", channel=Channel.VOICE)
        assert voice.target == ServiceLevelTarget(0.5, 10.0)
        assert (voice.measured.counted, voice.measured.answered_in_time, voice.measured.level) == (2, 1, 0.5)
        assert voice.depth == 1
        chat = await acd.queue_stats(TENANT, "support", channel=Channel.WEBCHAT)
        assert chat.target == ServiceLevelTarget(0.8, 20.0)
        assert (chat.measured.counted, chat.measured.answered_in_time) == (2, 1)
        every = await acd.queue_stats(TENANT, "support")
        assert (every.measured.counted, every.measured.answered_in_time) == (3, 2)
        # A window that ends before anything had an outcome measures nothing.
        assert (await acd.queue_stats(TENANT, "support", window_seconds=1.0)).measured.level is None

        assert gauge_points(reader, "contactcenter.queue.service_level") == {
            (("channel", "webchat"), ("queue", "support"), ("tenant", TENANT)): 0.5,
            (("channel", "voice"), ("queue", "support"), ("tenant", TENANT)): 0.5,
        }
    finally:
        await acd.stop()
        await stop_instance(instance)
