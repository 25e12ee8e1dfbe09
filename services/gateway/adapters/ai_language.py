"""What a customer's text says (language, intent, mood), asked of the AI service over the mesh."""

from __future__ import annotations

import logging
from typing import Any

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from gateway.domain.learned import NOTHING, Learned

log = logging.getLogger(__name__)

#: The contact waits this long at most before it is queued without a language.
TIMEOUT_SECONDS = 2.0
UNDETERMINED = frozenset({"", "und"})


class AiLanguage:
    def __init__(self, channel: MeshChannel, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self._stub: Any = mesh_stub(AiServiceStub, channel)
        self._timeout = timeout_seconds

    async def __call__(self, tenant_id: str, brand_id: str, text: str) -> Learned:
        # No contact id: the text alone; the AI service analyses the contact's message from the
        # event stream as well, and must not count it twice in the conversation.
        request = ai_pb2.AnalyzeMessageRequest(
            tenant_id=tenant_id, brand_id=brand_id, text=text, speaker=ai_pb2.SPEAKER_CUSTOMER
        )
        try:
            reply = await self._stub.AnalyzeMessage(request, timeout=self._timeout)
        except (RpcError, TimeoutError) as error:
            # Queued without a language rather than not at all; the AI insight updates it later.
            log.warning("language of a new contact unknown: %s", error)
            return NOTHING
        insight = reply.insight
        language = str(insight.language)
        if language in UNDETERMINED or not insight.language_reliable:
            language = ""  # "hello" says too little: queued without one, the insights tell more later
        return Learned(language, str(insight.intent), float(insight.sentiment))
