"""Closed-queue actions through RoutingService and the event stream: `message` tells the customer
on their channel, `callback` keeps the customer's place and places the call back once an agent
accepts, `queue` moves the contact; none of them ends in the dead-letter stream, and rules that
name unknown queues or regions are refused naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.adapters.acd_codec import contact_from_bytes
from routing.domain.contacts import ContactRecord, ContactStatus

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"
#: No opening window at all: closed whenever the test runs.
NEVER_OPEN = {"time_zone": "Europe/Berlin"}


def as_agent(platform: Platform, agent_id: str) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:  # noqa: F811
    await platform.start("routing")
    yield platform


async def configure(platform: Platform, name: str, **hours: Any) -> None:  # noqa: F811
    await platform.stub(RoutingServiceStub, role="admin").ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT, queue=pb.QueueDefinition(name=name, hours=pb.QueueHours(**NEVER_OPEN, **hours))
        )
    )


async def record_of(platform: Platform, contact_id: str) -> ContactRecord | None:  # noqa: F811
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    try:
        return contact_from_bytes((await kv.get(f"contact.{TENANT}.{contact_id}")).value or b"")
    except KeyNotFoundError:
        return None


async def hand_off(platform: Platform, contact_id: str, queue: str) -> None:  # noqa: F811
    """What a journey (or the gateway) publishes when a contact reaches a queue."""
    await platform.nc.jetstream().publish(
        naming.event_subject("eu", TENANT, "contact_queued", contact_id),
        events_pb2.Event(
            event_id=f"hand-off-{contact_id}",
            tenant=common_pb2.TenantRef(tenant_id=TENANT),
            region="eu",
            contact_id=contact_id,
            source="gateway",
            schema_version=1,
            contact_queued=events_pb2.ContactQueued(queue=queue, channel=common_pb2.CHANNEL_KIND_SMS),
        ).SerializeToString(),
    )


async def next_event(sub: Any) -> events_pb2.Event:
    return events_pb2.Event.FromString((await sub.next_msg(timeout=10)).data)


async def test_message_tells_the_customer_and_nothing_is_dead_lettered(routing: Platform) -> None:
    js = routing.nc.jetstream()
    sent = await js.subscribe(naming.event_subject("eu", TENANT, "message_sent", "m1"), ordered_consumer=True)
    await configure(routing, "night", closed_action="message", closed_message="We open at 9 on Monday.")
    await hand_off(routing, "m1", "night")
    told = await next_event(sent)
    assert told.message_sent.text == "We open at 9 on Monday."
    assert told.source == "routing-acd"
    record = await eventually(lambda: record_of(routing, "m1"))
    assert (record.status, record.closed_action) == (ContactStatus.CLOSED, "message")
    # The RPC says the same for a contact enqueued directly.
    answer = await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="m2", queue="night", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    assert answer.status == "closed_message"
    # Handled and acknowledged the first time: not retried, so never on its way to the dead letters.
    consumer = await js.consumer_info(naming.events_stream("eu").name, "routing-acd-queued")
    assert (consumer.num_ack_pending, consumer.num_redelivered) == (0, 0)


async def test_callback_keeps_the_place_and_is_placed_when_an_agent_accepts(routing: Platform) -> None:
    js = routing.nc.jetstream()
    sent = await js.subscribe(
        naming.event_subject("eu", TENANT, "message_sent", "cb1"), ordered_consumer=True
    )
    placed = await js.subscribe(
        naming.event_subject("eu", TENANT, "callback_requested", "cb1"), ordered_consumer=True
    )
    offered = await js.subscribe(
        naming.event_subject("eu", TENANT, "contact_offered", "cb1"), ordered_consumer=True
    )
    await configure(routing, "support", closed_action="callback")
    await hand_off(routing, "cb1", "support")
    assert "call you back" in (await next_event(sent)).message_sent.text
    record = await eventually(lambda: record_of(routing, "cb1"))
    assert (record.status, record.closed_action, record.contact.queue) == (
        ContactStatus.WAITING,
        "callback",
        "support",
    )
    # An agent who can take it logs in: the request is offered, and accepting it places the call.
    await routing.stub(RoutingServiceStub, role="supervisor").UpsertAgent(
        pb.UpsertAgentRequest(tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="a1"))
    )
    agent = as_agent(routing, "a1")
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    offer = (await next_event(offered)).contact_offered
    await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT,
            agent_id="a1",
            reservation_id=offer.reservation_id,
            answer=pb.OFFER_ANSWER_ACCEPT,
        )
    )
    call = await next_event(placed)
    assert (call.callback_requested.queue, call.callback_requested.channel) == ("support", "voice")


async def test_queue_action_moves_the_contact_to_the_target_queue(routing: Platform) -> None:
    admin = routing.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="night"))
    )
    await configure(routing, "day", closed_action="queue", closed_target_queue="night")
    await hand_off(routing, "q1", "day")
    record = await eventually(lambda: record_of(routing, "q1"))
    assert (record.status, record.contact.queue) == (ContactStatus.WAITING, "night")


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"closed_action": "queue", "closed_target_queue": "nowhere"}, "hours.closed_target_queue"),
        ({"closed_action": "queue", "closed_target_queue": "day"}, "hours.closed_target_queue"),
        (
            {"closed_action": "queue", "closed_target_queue": "day", "closed_target_region": "mars"},
            "hours.closed_target_region",
        ),
        ({"closed_action": "message", "closed_target_region": "us"}, "hours.closed_target_region"),
    ],
)
async def test_rules_naming_unknown_queues_or_regions_are_refused(
    routing: Platform, hours: dict[str, str], field: str
) -> None:
    with pytest.raises(RpcError) as caught:
        await configure(routing, "day", **hours)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"{field}:")
    listed = await routing.stub(RoutingServiceStub, role="admin").ListQueues(
        pb.ListQueuesRequest(tenant_id=TENANT)
    )
    assert [q.name for q in listed.queues] == []  # nothing of the refused queue was stored
