"""Wire the routing service's parts from the runtime."""

from __future__ import annotations

import uuid

from ccflow.effects import HandOff
from ccflow.journey import Journey
from google.protobuf import timestamp_pb2

from ccmesh import naming
from ccmesh.kv import ensure_bucket
from ccmesh.service_host import Runtime, ServiceParts
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore
from routing.config import RoutingConfig
from routing.entrypoints.rpc import RoutingServicer
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
        contact_queued=events_pb2.ContactQueued(queue=hand_off.queue, priority=hand_off.priority),
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
    servicer = RoutingServicer(runtime.access, journeys)
    return ServiceParts(
        servicers=[
            (
                servicer,
                routing_pb2.DESCRIPTOR.services_by_name["RoutingService"],
                routing_pb2_grpc.add_RoutingServiceServicer_to_server,
            )
        ]
    )
