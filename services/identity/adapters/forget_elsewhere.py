"""Other services' parts of an erasure, asked over the mesh with the identity service's token.

Integration keeps what identity's scan of the region cannot read (Parquet on disk, dead letters
with encoded events): its `EraseCustomerData` removes them and says how many per store. The AI
service remembers recent texts and words in memory: its `ForgetRecentTexts` drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.integration.v1 import integration_pb2

#: An erasure waits this long for a service's part (a region's analytics store is rewritten).
ERASE_TIMEOUT_SECONDS = 30.0


class IntegrationErasure:
    name = "integration"

    def __init__(self, integration: Any) -> None:
        #: An `IntegrationServiceStub` over the mesh carrying a service token.
        self._integration = integration

    async def erase(
        self, tenant_id: str, customer_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> dict[str, int]:
        reply = await self._integration.EraseCustomerData(
            integration_pb2.EraseCustomerDataRequest(
                tenant_id=tenant_id, customer_ids=customer_ids, contact_ids=contact_ids
            ),
            timeout=ERASE_TIMEOUT_SECONDS,
        )
        return dict(reply.removed)


class AiErasure:
    name = "ai"

    def __init__(self, ai: Any) -> None:
        #: An `AiServiceStub` over the mesh carrying a service token.
        self._ai = ai

    async def erase(
        self, tenant_id: str, customer_ids: Sequence[str], contact_ids: Sequence[str]
    ) -> dict[str, int]:
        try:
            reply = await self._ai.ForgetRecentTexts(
                ai_pb2.ForgetRecentTextsRequest(tenant_id=tenant_id), timeout=ERASE_TIMEOUT_SECONDS
            )
        except RpcError as error:
            # No instance runs in the region: no process holds a text in memory.
            if error.code is grpc.StatusCode.UNAVAILABLE and error.message.startswith("no instance of"):
                return {}
            raise
        return dict(reply.removed)
