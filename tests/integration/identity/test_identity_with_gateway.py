"""Through the real gateway: messages on SMS and WhatsApp land on one customer's timeline, and
erasure removes them, whatever spelling of the number the provider sent."""

from __future__ import annotations

from typing import Any

import pytest
from _platform import Platform, eventually
from nats.js.api import DeliverPolicy

from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

GLOBEX = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
SPELLINGS = {"sms": "+44 7911 123456", "whatsapp": "447911123456"}


def inbound(provider_id: str, channel: int, kind: int, value: str, text: str) -> Any:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=GLOBEX,
        channel=channel,  # type: ignore[arg-type]
        entry_point="support",
        text=text,
        provider_message_id=provider_id,
        **{"from": common_pb2.Identifier(kind=kind, value=value)},  # type: ignore[arg-type]
    )


async def region_bytes(platform: Platform) -> bytes:
    js = platform.nc.jetstream()
    found = b""
    for info in await js.streams_info():
        if not info.state.messages:
            continue
        sub = await js.subscribe(
            ">", stream=info.config.name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            while True:
                message = await sub.next_msg(timeout=5)
                found += message.subject.encode() + b" " + (message.data or b"") + b"\n"
                if message.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    return found


async def test_gateway_messages_build_one_timeline_and_erasure_removes_every_spelling(
    platform: Platform,
) -> None:
    await platform.start("identity", "gateway")
    gateway = platform.stub(GatewayServiceStub, tenant="globex", role="integration")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    sms = await gateway.SubmitInboundMessage(
        inbound(
            "SM-1", common_pb2.CHANNEL_KIND_SMS, common_pb2.IDENTIFIER_KIND_PHONE, SPELLINGS["sms"], "parcel?"
        )
    )
    wa = await gateway.SubmitInboundMessage(
        inbound(
            "WA-1",
            common_pb2.CHANNEL_KIND_WHATSAPP,
            common_pb2.IDENTIFIER_KIND_WHATSAPP_ID,
            SPELLINGS["whatsapp"],
            "hello?",
        )
    )
    assert sms.customer_id == wa.customer_id

    async def timeline() -> Any:
        reply = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=sms.customer_id))
        texts = [e.summary for e in reply.entries if e.kind == pb.TIMELINE_ENTRY_KIND_MESSAGE_IN]
        return reply if sorted(texts) == ["hello?", "parcel?"] else None

    shown = await eventually(timeline)
    assert {e.channel for e in shown.entries} == {
        common_pb2.CHANNEL_KIND_SMS,
        common_pb2.CHANNEL_KIND_WHATSAPP,
    }
    before = await region_bytes(platform)
    assert all(spelling.encode() in before for spelling in SPELLINGS.values())  # the check can fail

    forgotten = await identity.ForgetCustomer(
        pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=sms.customer_id, reason="erasure request")
    )
    assert forgotten.removed["events-eu"] == 3  # one contact (WhatsApp continued it), two messages
    after = await region_bytes(platform)
    for spelling in (*SPELLINGS.values(), "+447911123456", "parcel?", "hello?"):
        assert spelling.encode() not in after, spelling
