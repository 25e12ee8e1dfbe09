"""Another region's ACD over the mesh: `EnqueueContact` on `cc.<region>.routing.v1.EnqueueContact`.

What crosses the region boundary is what routing there needs and nothing personal: the contact
id (an opaque id), the target queue, channel, priority, skills and language.
"""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh import channels
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.domain.overflow import HandOverRefused, HandOverUnknown
from routing.domain.queueing import WaitingContact

#: Only a timeout leaves the outcome open; every other failure means the contact was not stored
#: ("no responders" is UNAVAILABLE: nobody serves routing in that region).
_UNKNOWN = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED})


class MeshRemoteQueues:
    def __init__(self, channel: MeshChannel, timeout_seconds: float = 5.0) -> None:
        # The channel is authenticated as this service; `region=` on each call picks the region.
        self._stub: Any = mesh_stub(RoutingServiceStub, channel)
        self._region = channel.region
        self._timeout = timeout_seconds

    async def enqueue(self, region: str, tenant: str, contact: WaitingContact) -> str:
        request = routing_pb2.EnqueueContactRequest(
            tenant_id=tenant,
            contact_id=contact.contact_id,
            queue=contact.queue,
            channel=channels.to_kind(contact.channel),  # type: ignore[arg-type]
            priority=contact.priority,
            required_skills=sorted(contact.required_skills),
            language=contact.language,
            # A contact handed on again keeps the region its customer's data lives in.
            home_region=contact.home_region or self._region,
        )
        try:
            reply = await self._stub.EnqueueContact(request, region=region, timeout=self._timeout)
        except RpcError as error:
            if error.code in _UNKNOWN:
                raise HandOverUnknown(str(error)) from error
            raise HandOverRefused(str(error)) from error
        except TimeoutError as error:
            raise HandOverUnknown("no answer in time") from error
        status = str(reply.status)
        if status.startswith("closed_"):
            raise HandOverRefused(f"queue {reply.queue!r} in {region} is closed ({status})")
        return status
