"""A journey's queue hand-off reaches the ACD with the customer's channel and language: a WhatsApp
journey is routed as WhatsApp (to an agent with WhatsApp capacity who speaks its language),
not as another channel, which was all a hand-off without a channel could mean."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from _platform import Platform, eventually
from google.protobuf import struct_pb2
from nats.js.errors import KeyNotFoundError

from ccflow.loader import read_sources
from ccmesh import naming
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)
FLOWS = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"


def value(item: object) -> struct_pb2.Value:
    result = struct_pb2.Value()
    if isinstance(item, str):
        result.string_value = item
    else:
        assert isinstance(item, float)
        result.number_value = item
    return result


async def test_a_whatsapp_journey_is_queued_and_routed_as_whatsapp_in_its_language(
    platform: Platform,
) -> None:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    files = [
        pb.FlowSourceFile(name=str(Path(name).relative_to(FLOWS.parent)), content=text)
        for name, text in read_sources([FLOWS])
    ]
    version = (
        await admin.PublishFlow(pb.PublishFlowRequest(tenant_id="acme", flow="support", files=files))
    ).version
    await admin.SetFlowAlias(
        pb.SetFlowAliasRequest(tenant_id="acme", flow="support", alias="live", version=version)
    )
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="acme", queue=pb.QueueDefinition(name="bank-fraud"))
    )
    for agent_id, language, channel in (
        ("chatter", "de", common_pb2.CHANNEL_KIND_WEBCHAT),
        ("texter", "de", common_pb2.CHANNEL_KIND_WHATSAPP),
    ):
        await admin.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id="acme",
                agent=pb.AgentDefinition(
                    agent_id=agent_id,
                    languages=[language],
                    capacity=[
                        pb.ChannelCapacity(channel=c, capacity=1 if c == channel else 0)
                        for c in (
                            common_pb2.CHANNEL_KIND_VOICE,
                            common_pb2.CHANNEL_KIND_WEBCHAT,
                            common_pb2.CHANNEL_KIND_WHATSAPP,
                        )
                    ],
                ),
            )
        )
        await admin.SetAgentState(
            pb.SetAgentStateRequest(tenant_id="acme", agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
        )
    js = platform.nc.jetstream()
    queued = await js.subscribe("ccevt.eu.acme.contact_queued.wa-1", ordered_consumer=True)
    offered = await js.subscribe("ccevt.eu.acme.contact_offered.wa-1", ordered_consumer=True)

    await admin.StartJourney(
        pb.StartJourneyRequest(
            tenant_id="acme",
            contact_id="wa-1",
            flow="support",
            channel="whatsapp",
            brand="acme-bank",
            language="de",
        )
    )
    # No AI service runs here: the journey's intent step fails and its menu asks; "9" is fraud.
    ended = await admin.ContinueJourney(
        pb.ContinueJourneyRequest(tenant_id="acme", journey_id="wa-1", input="9")
    )
    assert ended.journey.hand_off.queue == "bank-fraud"

    hand_off = events_pb2.Event.FromString((await queued.next_msg(timeout=10)).data)
    assert hand_off.source == "routing"  # the journey's, not the ACD's own
    assert (
        hand_off.contact_queued.channel,
        hand_off.contact_queued.language,
        hand_off.contact_queued.brand,
    ) == (common_pb2.CHANNEL_KIND_WHATSAPP, "de", "acme-bank")
    offer = events_pb2.Event.FromString((await offered.next_msg(timeout=10)).data)
    assert offer.contact_offered.agent_id == "texter"
    # The ACD's own ContactQueued follows the journey's; unconsumed, it would hold up the drain.
    await queued.unsubscribe()
    await offered.unsubscribe()

    kv = await js.key_value(naming.acd_bucket("eu"))

    async def stored() -> dict[str, object] | None:
        try:
            return dict(orjson.loads((await kv.get("contact.acme.wa-1")).value or b"{}"))
        except KeyNotFoundError:
            return None

    record = await eventually(stored)
    assert (record["channel"], record["language"], record["queue"]) == ("whatsapp", "de", "bank-fraud")
