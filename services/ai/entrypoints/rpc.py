"""AiService: decode, check access, call the domain, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ai.domain.pii import redact
from ccmesh.access import AccessControl
from contactcenter.ai.v1 import ai_pb2, ai_pb2_grpc

CALLER_ROLES = frozenset({"admin", "supervisor", "agent", "integration"})
#: Longer texts belong in a document pipeline, not a synchronous call.
MAX_TEXT_CHARS = 100_000


class AiServicer(ai_pb2_grpc.AiServiceServicer):
    def __init__(self, access: AccessControl) -> None:
        self._access = access

    async def RedactText(self, request: ai_pb2.RedactTextRequest, context: Any) -> ai_pb2.RedactTextResponse:
        await self._access.require(context, request.tenant_id, CALLER_ROLES)
        if len(request.text) > MAX_TEXT_CHARS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"text has {len(request.text)} characters; the maximum is {MAX_TEXT_CHARS}",
            )
        redacted, entities = redact(request.text)
        return ai_pb2.RedactTextResponse(
            redacted_text=redacted,
            entities=[ai_pb2.Entity(kind=e.kind, start=e.start, end=e.end) for e in entities],
        )
