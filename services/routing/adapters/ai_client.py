"""The AI service over the mesh, for the steps of journeys (`journey_work.AiPort`)."""

from __future__ import annotations

from typing import Any

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from routing.domain.journey_facts import Analysis, WorkFailed

#: Too short a wait to be worth a call: the step takes its failure branch at once.
MIN_TIMEOUT_SECONDS = 0.05


class MeshAi:
    def __init__(self, channel: MeshChannel) -> None:
        # The channel is authenticated as this service (role "service"), which the AI service admits.
        self._stub: Any = mesh_stub(AiServiceStub, channel)

    async def analyze(self, tenant: str, brand: str, text: str, timeout: float) -> Analysis:
        # No contact id: the text alone, so the conversation the AI service keeps from the
        # contact's events does not count this message twice.
        request = ai_pb2.AnalyzeMessageRequest(
            tenant_id=tenant, brand_id=brand, text=text, speaker=ai_pb2.SPEAKER_CUSTOMER
        )
        reply = await self._call("AnalyzeMessage", request, timeout)
        insight = reply.insight
        return Analysis(
            language=insight.language,
            intent=insight.intent,
            sentiment=insight.sentiment,
            language_reliable=insight.language_reliable,
        )

    async def summarize(self, tenant: str, contact_id: str, timeout: float) -> str:
        request = ai_pb2.SummarizeConversationRequest(tenant_id=tenant, contact_id=contact_id)
        reply = await self._call("SummarizeConversation", request, timeout)
        return str(reply.summary)

    async def _call(self, method: str, request: Any, timeout: float) -> Any:
        if timeout < MIN_TIMEOUT_SECONDS:
            raise WorkFailed(f"no time left to ask the AI service ({method})")
        try:
            return await getattr(self._stub, method)(request, timeout=timeout)
        except RpcError as error:
            raise WorkFailed(f"AI service {method}: {error}") from None
        except TimeoutError:
            raise WorkFailed(f"AI service {method}: no answer within {timeout:.1f}s") from None
