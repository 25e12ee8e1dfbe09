"""What the AI service learns reaches routing while the contact waits: a contact queued without a
language takes the one the AI service detects in the customer's message (its `ai_insight`), and
the next offer goes to an agent who speaks it, not to the one who became free first."""

from __future__ import annotations

import orjson
import pytest
from _platform import Platform, eu_contact_center, eventually, platform  # noqa: F401 - the fixture
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)
WEBCHAT = common_pb2.CHANNEL_KIND_WEBCHAT


async def test_a_waiting_contact_takes_the_detected_language_and_is_offered_to_a_speaker(
    platform: Platform,  # noqa: F811
) -> None:
    await platform.apply(eu_contact_center())  # streamInsights: the AI service analyses every message
    await platform.start("routing", "ai")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id="acme", queue=pb.QueueDefinition(name="support"))
    )
    for agent_id, language in (("emma", "en"), ("yuki", "ja")):
        await admin.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id="acme",
                agent=pb.AgentDefinition(
                    agent_id=agent_id,
                    languages=[language],
                    capacity=[pb.ChannelCapacity(channel=WEBCHAT, capacity=1)],
                ),
            )
        )
    js = platform.nc.jetstream()
    events = EventPublisher(js, "eu")
    offered = await js.subscribe("ccevt.eu.acme.contact_offered.jp-1", ordered_consumer=True)

    def event(payload: object, event_id: str) -> events_pb2.Event:
        return new_event(
            payload, tenant_id="acme", region="eu", source="gateway", contact_id="jp-1", event_id=event_id
        )  # type: ignore[arg-type]

    # Queued without a language (the entry point has none), nobody available yet.
    await events.publish(event(events_pb2.ContactQueued(queue="support", channel=WEBCHAT), "jp-1.queued"))
    await events.publish(
        event(
            events_pb2.MessageReceived(
                message_id="m-1", channel=WEBCHAT, text="注文した商品がまだ届いていません。いつ届きますか"
            ),
            "jp-1.m-1",
        )
    )
    kv = await js.key_value(naming.acd_bucket("eu"))

    async def language() -> str | None:
        try:
            record = orjson.loads((await kv.get("contact.acme.jp-1")).value or b"{}")
        except KeyNotFoundError:
            return None
        return str(record.get("language") or "") or None

    assert await eventually(language) == "ja"
    # The English speaker is free first; the contact still goes to the Japanese speaker.
    for agent_id in ("emma", "yuki"):
        await admin.SetAgentState(
            pb.SetAgentStateRequest(tenant_id="acme", agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
        )
    offer = events_pb2.Event.FromString((await offered.next_msg(timeout=10)).data)
    assert offer.contact_offered.agent_id == "yuki"
    await offered.unsubscribe()
