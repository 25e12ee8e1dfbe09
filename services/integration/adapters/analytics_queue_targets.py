"""The tenant's queues' service-level targets, as routing (their owner) lists them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccmesh.channels import from_kind_or_none
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from integration.domain.analytics_metrics import DEFAULT_THRESHOLD_SECONDS, QueueTarget


def queue_target(queue: routing_pb2.QueueDefinition) -> QueueTarget:
    by_channel = {}
    for level in queue.channel_service_levels:
        channel = from_kind_or_none(level.channel)
        if channel is not None and level.target.within_seconds > 0:
            by_channel[channel.value] = level.target.within_seconds
    within = queue.service_level.within_seconds if queue.HasField("service_level") else 0.0
    return QueueTarget(within_seconds=within or DEFAULT_THRESHOLD_SECONDS, by_channel=by_channel)


class RoutingQueueTargets:
    """Asks routing (`ListQueues`, as this service) at each report: targets change rarely, but
    a report must not use a target that was changed an hour ago. Raises `RpcError` when routing
    cannot answer."""

    def __init__(self, channel: MeshChannel) -> None:
        self._stub: Any = mesh_stub(RoutingServiceStub, channel)

    async def of_tenant(self, tenant_id: str) -> Mapping[str, QueueTarget]:
        reply = await self._stub.ListQueues(routing_pb2.ListQueuesRequest(tenant_id=tenant_id))
        return {queue.name: queue_target(queue) for queue in reply.queues}
