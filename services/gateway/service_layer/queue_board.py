"""The supervisor's board: every queue of the tenant with its live numbers, agents by state."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from contactcenter.routing.v1 import routing_pb2


class QueueStatsClient(Protocol):
    async def ListQueues(self, request: routing_pb2.ListQueuesRequest, **kwargs: Any) -> Any: ...
    async def GetQueueStats(self, request: routing_pb2.GetQueueStatsRequest, **kwargs: Any) -> Any: ...


async def queue_board(routing: QueueStatsClient, tenant_id: str) -> dict[str, Any]:
    listed = await routing.ListQueues(routing_pb2.ListQueuesRequest(tenant_id=tenant_id))
    stats = await asyncio.gather(
        *(
            routing.GetQueueStats(routing_pb2.GetQueueStatsRequest(tenant_id=tenant_id, queue=queue.name))
            for queue in listed.queues
        )
    )
    return {
        "tenant": tenant_id,
        "at": time.time(),
        "queues": [_queue(queue, numbers) for queue, numbers in zip(listed.queues, stats, strict=True)],
        "agents": dict(sorted(listed.agents_by_state.items())),
    }


def _queue(queue: routing_pb2.QueueDefinition, stats: Any) -> dict[str, Any]:
    wait = stats.predicted_average_wait_seconds
    return {
        "name": queue.name,
        "brand": queue.brand,
        "requiredSkills": list(queue.required_skills),
        "depth": stats.depth,
        "longestWaitSeconds": round(stats.longest_wait_seconds, 3),
        "staffedAgents": stats.staffed_agents,
        # -1 on the wire means "nothing measured yet" / "unbounded"; JSON says null.
        "serviceLevel": None if stats.measured_service_level < 0 else stats.measured_service_level,
        "serviceLevelTarget": {
            "answeredFraction": stats.target.answered_fraction,
            "withinSeconds": stats.target.within_seconds,
        },
        "meetsTarget": stats.meets_target,
        "predictedServiceLevel": stats.predicted_service_level,
        "predictedAverageWaitSeconds": None if wait < 0 else wait,
    }
