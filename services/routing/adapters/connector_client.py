"""The integration service's connectors over the mesh, for journeys' integration steps
(`journey_work.ConnectorPort`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from routing.domain.journey_facts import WorkFailed

#: Too short a wait to be worth a call: the step takes its failure branch at once.
MIN_TIMEOUT_SECONDS = 0.05
#: Added to the system's time for the hop to the integration service and back.
MESH_MARGIN_SECONDS = 0.2


class MeshConnectors:
    def __init__(self, channel: MeshChannel) -> None:
        # Authenticated as this service (role "service"), which InvokeConnector admits.
        self._stub: Any = mesh_stub(IntegrationServiceStub, channel)

    async def invoke(
        self,
        tenant: str,
        brand: str,
        contact_id: str,
        integration: str,
        inputs: Mapping[str, str],
        timeout: float,
    ) -> dict[str, str] | None:
        if timeout < MIN_TIMEOUT_SECONDS:
            raise WorkFailed(f"no time left to call the connector for {integration!r}")
        request = integration_pb2.InvokeConnectorRequest(
            tenant_id=tenant,
            brand_id=brand,
            contact_id=contact_id,
            integration=integration,
            inputs=dict(inputs),
            # The system gets what is left once the hop is paid for.
            timeout_seconds=max(MIN_TIMEOUT_SECONDS, timeout - MESH_MARGIN_SECONDS),
        )
        try:
            reply = await self._stub.InvokeConnector(request, timeout=timeout)
        except RpcError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None  # no connector answers it: the system may send a flow event instead
            raise WorkFailed(f"connector for {integration!r}: {error}") from None
        except TimeoutError:
            raise WorkFailed(f"connector for {integration!r}: no answer within {timeout:.1f}s") from None
        return dict(reply.fields)
