"""The ai service's RedactText over the mesh."""

from __future__ import annotations

import grpc
import pytest
from _platform import Platform

from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

pytestmark = pytest.mark.timeout(60)


async def test_redact_text_returns_the_redacted_copy_and_offsets_into_the_original(
    platform: Platform,
) -> None:
    await platform.start("ai")
    ai = platform.stub(AiServiceStub, tenant="acme", role="agent")
    text = "Order 123456789 of 2024-03-15: mail jane@example.com, card 4111 1111 1111 1111 ✓"
    reply = await ai.RedactText(ai_pb2.RedactTextRequest(tenant_id="acme", text=text))
    assert reply.redacted_text == "Order 123456789 of 2024-03-15: mail [EMAIL], card [CARD_NUMBER] ✓"
    assert [(e.kind, text[e.start : e.end]) for e in reply.entities] == [
        ("email", "jane@example.com"),
        ("card_number", "4111 1111 1111 1111"),
    ]


async def test_oversized_text_is_invalid_argument_naming_the_limit(platform: Platform) -> None:
    await platform.start("ai")
    ai = platform.stub(AiServiceStub, tenant="acme", role="agent")
    with pytest.raises(RpcError) as caught:
        await ai.RedactText(ai_pb2.RedactTextRequest(tenant_id="acme", text="a" * 100_001))
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "text" in caught.value.message
    assert "100000" in caught.value.message
