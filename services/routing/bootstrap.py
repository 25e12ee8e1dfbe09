"""Wire the routing service's parts from the runtime."""

from __future__ import annotations

import uuid

from google.protobuf import timestamp_pb2

from ccflow.effects import HandOff
from ccflow.journey import Journey
from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from ccmesh.kv import ensure_bucket
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from routing.adapters.acd_remote import MeshRemoteQueues
from routing.adapters.acd_store import AcdStore, KeyMirror
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore
from routing.config import RoutingConfig
from routing.domain.contacts import ContactRecord
from routing.entrypoints.acd_events import (
    acd_event,
    closed_handler,
    journey_hand_off,
    overflow_rules_following,
    queued_handler,
)
from routing.entrypoints.actions import actions_consumer
from routing.entrypoints.rpc import RoutingServicer
from routing.service_layer.acd import AcdService, AcdSettings
from routing.service_layer.acd_metrics import AcdMetrics
from routing.service_layer.journey_actions import JourneyActions
from routing.service_layer.journeys import JourneyService


def contact_queued(region: str, tenant: str, journey: Journey, hand_off: HandOff) -> events_pb2.Event:
    occurred = timestamp_pb2.Timestamp()
    occurred.GetCurrentTime()
    # Fixed per journey step, so a retried step's publish is dropped as a duplicate.
    event_id = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"routing/{tenant}/{journey.journey_id}/queued/{len(journey.path)}")
    )
    return events_pb2.Event(
        event_id=event_id,
        occurred_at=occurred,
        tenant=common_pb2.TenantRef(tenant_id=tenant, brand_id=journey.brand),
        region=region,
        contact_id=journey.journey_id,
        source="routing",
        schema_version=1,
        contact_queued=journey_hand_off(
            hand_off.queue,
            hand_off.priority,
            journey.channel,
            journey.language,
            journey.brand,
            {**journey.attributes, **hand_off.attributes},
        ),
    )


async def build(runtime: Runtime[RoutingConfig]) -> ServiceParts:
    config = runtime.config
    buckets = {}
    for name in naming.routing_region_buckets(config.region):
        buckets[name] = await ensure_bucket(
            runtime.js, name, placement_tags=runtime.placement_tags, replicas=config.stream_replicas
        )

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        await runtime.events.publish(contact_queued(config.region, tenant, journey, hand_off))

    journeys = JourneyService(
        FlowStore(buckets[naming.flows_bucket(config.region)]),
        JourneyStore(buckets[naming.journeys_bucket(config.region)]),
        config.region,
        publish_queued,
        PolicyStore(buckets[naming.flows_bucket(config.region)]),
    )
    acd_kv = None
    for name in naming.routing_acd_buckets(config.region):
        acd_kv = await ensure_bucket(
            runtime.js,
            name,
            history=1,
            placement_tags=runtime.placement_tags,
            replicas=config.stream_replicas,
        )
    assert acd_kv is not None

    acd_mirror = KeyMirror(acd_kv)
    acd_metrics = AcdMetrics(acd_mirror)

    async def publish_acd(kind: str, tenant: str, record: ContactRecord, detail: str) -> None:
        acd_metrics.outcome(kind, tenant, record.contact.queue)
        event = acd_event(config.region, kind, tenant, record, detail)
        if event is not None:
            await runtime.events.publish(event)

    acd = AcdService(
        AcdStore(acd_kv),
        acd_mirror,
        AcdSettings(
            config.acd_offer_timeout_seconds,
            config.acd_heartbeat_timeout_seconds,
            config.acd_tick_seconds,
            region=config.region,
        ),
        publish_acd,
        overflow_rules=overflow_rules_following(lambda: runtime.contact_center),
        remote=MeshRemoteQueues(runtime.channel, config.default_deadline_seconds),
    )
    await acd.start()
    queued_consumer = DurableConsumer(
        runtime.js,
        config.region,
        ConsumerSettings(
            durable="routing-acd-queued",
            filter_subject=naming.event_subject(config.region, "*", "contact_queued", "*"),
        ),
        queued_handler(acd),
    )
    # Contacts closed elsewhere (a caller hanging up in the queue) leave the ACD; one durable
    # consumer shared by the region's instances, so each close is handled once (and idempotently).
    closed_consumer = DurableConsumer(
        runtime.js,
        config.region,
        ConsumerSettings(
            durable="routing-acd-closed",
            filter_subject=naming.event_subject(config.region, "*", "contact_closed", "*"),
        ),
        closed_handler(acd),
    )
    journeys_kv = buckets[naming.journeys_bucket(config.region)]
    journey_actions = actions_consumer(
        runtime.js, config.region, JourneyActions(journeys, JourneyStore(journeys_kv)), journeys_kv
    )
    servicer = RoutingServicer(runtime.access, journeys, acd, config.region)
    return ServiceParts(
        consumers=[queued_consumer, closed_consumer, journey_actions],
        on_stop=[acd.stop],
        servicers=[
            (
                servicer,
                routing_pb2.DESCRIPTOR.services_by_name["RoutingService"],
                routing_pb2_grpc.add_RoutingServiceServicer_to_server,
            )
        ],
    )
