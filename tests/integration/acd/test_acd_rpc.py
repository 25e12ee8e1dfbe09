"""The ACD through RoutingService on the mesh: the full offer cycle with events and the decision
record, access rules, and bad input answered with INVALID_ARGUMENT naming the field while the
stored state stays as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from _platform import Platform, eventually
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.domain.erlang_c import forecast

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT,
            queue=pb.QueueDefinition(
                name="billing", required_skills=["billing"], strategy=pb.ROUTING_STRATEGY_MOST_SKILLED
            ),
        )
    )
    supervisor = platform.stub(RoutingServiceStub, role="supervisor")
    await supervisor.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="a1",
                skills={"billing": 4},
                capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=2)],
            ),
        )
    )
    yield platform


async def stored(platform: Platform, key: str) -> bytes | None:
    kv = await platform.nc.jetstream().key_value(naming.acd_bucket("eu"))
    try:
        value: bytes | None = (await kv.get(key)).value
        return value
    except KeyNotFoundError:
        return None


async def test_offer_accept_complete_with_events_and_explanation(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offered_events = await js.subscribe("ccevt.eu.acme.contact_offered.c1", ordered_consumer=True)
    await as_agent(routing, "a1").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    integration = routing.stub(RoutingServiceStub, role="integration")
    queued = await integration.EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT,
            contact_id="c1",
            queue="billing",
            channel=common_pb2.CHANNEL_KIND_WEBCHAT,
            required_skills=["billing"],
        )
    )
    assert queued.queue == "billing"
    message = await offered_events.next_msg(timeout=10)
    event = events_pb2.Event.FromString(message.data)
    assert event.contact_offered.agent_id == "a1"
    reservation = event.contact_offered.reservation_id

    explained = await routing.stub(RoutingServiceStub, role="supervisor").ExplainDecision(
        pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id="c1")
    )
    assert (explained.agent_id, explained.rule, explained.queue) == ("a1", "most_skilled", "billing")
    assert [(c.agent_id, c.score) for c in explained.candidates] == [("a1", 4.0)]

    agent = as_agent(routing, "a1")
    accepted = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_ACCEPT
        )
    )
    assert (accepted.contact_id, accepted.status) == ("c1", "assigned")
    # A repeated accept (its reply lost) gets the same answer; it changes nothing.
    again = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_ACCEPT
        )
    )
    assert (again.contact_id, again.status) == ("c1", "assigned")
    done = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT, agent_id="a1", reservation_id=reservation, answer=pb.OFFER_ANSWER_COMPLETE
        )
    )
    assert done.status == "closed"
    accepted_events = await js.subscribe("ccevt.eu.acme.contact_accepted.c1", ordered_consumer=True)
    assert events_pb2.Event.FromString(
        (await accepted_events.next_msg(timeout=5)).data
    ).contact_accepted.agent_id == ("a1")


async def test_agents_act_only_on_themselves_and_tenants_stay_apart(routing: Platform) -> None:
    other_agent = as_agent(routing, "a2")
    with pytest.raises(RpcError) as caught:
        await other_agent.SetAgentState(
            pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="agent").ConfigureQueue(
            pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="x"))
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, tenant="globex", role="supervisor").ExplainDecision(
            pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id="c1")
        )
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


BAD_ENQUEUE = [
    (
        pb.EnqueueContactRequest(contact_id="c9", queue="nope", channel=common_pb2.CHANNEL_KIND_WEBCHAT),
        "queue",
    ),
    (
        pb.EnqueueContactRequest(
            contact_id="c9", queue="billing", channel=common_pb2.CHANNEL_KIND_WEBCHAT, required_skills=["x"]
        ),
        "required_skills",
    ),
    (pb.EnqueueContactRequest(contact_id="c9", queue="billing"), "channel"),
    (
        pb.EnqueueContactRequest(
            contact_id="c9", queue="billing", channel=common_pb2.CHANNEL_KIND_WEBCHAT, priority=120
        ),
        "priority",
    ),
]


@pytest.mark.parametrize(("request_", "field"), BAD_ENQUEUE)
async def test_bad_enqueue_names_the_field_and_stores_nothing(
    routing: Platform, request_: pb.EnqueueContactRequest, field: str
) -> None:
    request_.tenant_id = TENANT
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(request_)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"{field}:")
    assert await stored(routing, "contact.acme.c9") is None


async def test_negative_capacity_names_the_field_and_keeps_the_agent(routing: Platform) -> None:
    before = await stored(routing, "agent.acme.a1")
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="admin").UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT,
                agent=pb.AgentDefinition(
                    agent_id="a1",
                    capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=-1)],
                ),
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "capacity.webchat" in caught.value.message
    assert before is not None and await stored(routing, "agent.acme.a1") == before


async def test_malformed_time_zone_names_the_field_and_keeps_the_queue(routing: Platform) -> None:
    before = await stored(routing, "queue.acme.billing")
    with pytest.raises(RpcError) as caught:
        await routing.stub(RoutingServiceStub, role="admin").ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=pb.QueueDefinition(name="billing", hours=pb.QueueHours(time_zone="Europe/Atlantis")),
            )
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("time_zone:")
    assert before is not None and await stored(routing, "queue.acme.billing") == before


async def test_closed_queue_applies_its_closed_action(routing: Platform) -> None:
    admin = routing.stub(RoutingServiceStub, role="admin")
    never_open = pb.QueueHours(time_zone="Asia/Tokyo", closed_action="callback")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="night", hours=never_open))
    )
    answer = await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="c5", queue="night", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    assert answer.status == "closed_callback"
    # A call-back request keeps the customer's place: it waits in the queue (see test_acd_closed_actions).
    waiting = await stored(routing, "contact.acme.c5")
    assert waiting is not None and orjson.loads(waiting)["closed_action"] == "callback"


async def test_a_journeys_contact_queued_event_enqueues_through_the_same_use_case(routing: Platform) -> None:
    event = events_pb2.Event(
        event_id="journey-hand-off-1",
        tenant=common_pb2.TenantRef(tenant_id=TENANT),
        region="eu",
        contact_id="j1",
        source="routing",
        schema_version=1,
        contact_queued=events_pb2.ContactQueued(
            queue="billing", priority=70, channel=common_pb2.CHANNEL_KIND_WEBCHAT
        ),
    )
    ignored = events_pb2.Event()
    ignored.CopyFrom(event)
    ignored.event_id, ignored.contact_id = "journey-hand-off-2", "j2"
    ignored.contact_queued.queue = "no-such-queue"
    js = routing.nc.jetstream()
    for item in (ignored, event):
        subject = naming.event_subject("eu", TENANT, "contact_queued", item.contact_id)
        await js.publish(subject, item.SerializeToString(), headers={"Nats-Msg-Id": item.event_id})

    async def queued() -> bytes | None:
        return await stored(routing, "contact.acme.j1")

    record = orjson.loads(await eventually(queued))
    assert (record["queue"], record["priority"], record["status"]) == ("billing", 70, "waiting")
    assert await stored(routing, "contact.acme.j2") is None  # unknown queue: dead-lettered, nothing stored


async def test_queue_stats_predict_with_erlang_c_and_refuse_unknown_queues(routing: Platform) -> None:
    integration = routing.stub(RoutingServiceStub, role="integration")
    for n in range(3):
        await integration.EnqueueContact(
            pb.EnqueueContactRequest(
                tenant_id=TENANT, contact_id=f"s{n}", queue="billing", channel=common_pb2.CHANNEL_KIND_WEBCHAT
            )
        )
    supervisor = routing.stub(RoutingServiceStub, role="supervisor")

    async def three_waiting() -> pb.GetQueueStatsResponse | None:
        stats = await supervisor.GetQueueStats(pb.GetQueueStatsRequest(tenant_id=TENANT, queue="billing"))
        return stats if stats.depth == 3 else None

    stats = await eventually(three_waiting)
    # Nobody is routable (a1 is offline): an unstaffed queue with arrivals never meets its target.
    assert (stats.staffed_agents, stats.arrivals_last_hour) == (0, 3)
    assert stats.predicted_service_level == 0.0 and stats.predicted_average_wait_seconds == -1.0
    await as_agent(routing, "a1").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )

    async def staffed() -> pb.GetQueueStatsResponse | None:
        now = await supervisor.GetQueueStats(pb.GetQueueStatsRequest(tenant_id=TENANT, queue="billing"))
        return now if now.staffed_agents == 1 else None

    # Arrivals are counted over the last 15 minutes (3 -> 12 an hour); no contact finished yet,
    # so the handle time is the default.
    expected = forecast(12, 300, 1, 20)
    assert (await eventually(staffed)).predicted_service_level == pytest.approx(expected.service_level)
    with pytest.raises(RpcError) as caught:
        await supervisor.GetQueueStats(pb.GetQueueStatsRequest(tenant_id=TENANT, queue="nope"))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT and caught.value.message.startswith("queue:")


async def test_decline_is_its_own_event_and_the_contact_waits_again(routing: Platform) -> None:
    js = routing.nc.jetstream()
    offered_events = await js.subscribe("ccevt.eu.acme.contact_offered.d1", ordered_consumer=True)
    declined_events = await js.subscribe("ccevt.eu.acme.offer_declined.d1", ordered_consumer=True)
    agent = as_agent(routing, "a1")
    await agent.SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="a1", state=pb.AGENT_STATE_AVAILABLE)
    )
    await routing.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT, contact_id="d1", queue="billing", channel=common_pb2.CHANNEL_KIND_WEBCHAT
        )
    )
    offer = events_pb2.Event.FromString((await offered_events.next_msg(timeout=10)).data).contact_offered
    answer = await agent.AnswerOffer(
        pb.AnswerOfferRequest(
            tenant_id=TENANT,
            agent_id="a1",
            reservation_id=offer.reservation_id,
            answer=pb.OFFER_ANSWER_DECLINE,
        )
    )
    assert answer.status in ("waiting", "offered")  # back in the queue (a1 is its only agent)
    declined = events_pb2.Event.FromString((await declined_events.next_msg(timeout=10)).data)
    assert declined.source == "routing-acd"
    assert (declined.offer_declined.agent_id, declined.offer_declined.reservation_id) == (
        "a1",
        offer.reservation_id,
    )
    # More offers follow (a1 is asked again); unconsumed, they would hold up the client's drain.
    await offered_events.unsubscribe()
    await declined_events.unsubscribe()


async def test_a_gateway_hand_off_is_routed_on_its_channel_and_the_acds_own_events_are_ignored(
    routing: Platform,
) -> None:
    supervisor = routing.stub(RoutingServiceStub, role="supervisor")
    await supervisor.UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id="v1",
                skills={"billing": 2},
                languages=["de"],
                capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_VOICE, capacity=1)],
            ),
        )
    )
    js = routing.nc.jetstream()
    offered_events = await js.subscribe("ccevt.eu.acme.contact_offered.g1", ordered_consumer=True)
    await as_agent(routing, "v1").SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="v1", state=pb.AGENT_STATE_AVAILABLE)
    )
    from_gateway = events_pb2.Event(
        event_id="gateway-hand-off-g1",
        tenant=common_pb2.TenantRef(tenant_id=TENANT),
        region="eu",
        contact_id="g1",
        source="gateway",
        schema_version=1,
        contact_queued=events_pb2.ContactQueued(
            queue="billing",
            priority=60,
            channel=common_pb2.CHANNEL_KIND_VOICE,
            required_skills=["billing"],
            language="de",
        ),
    )
    # The ACD's own ContactQueued (what it publishes after storing a contact) is not taken back in.
    own = events_pb2.Event()
    own.CopyFrom(from_gateway)
    own.event_id, own.contact_id, own.source = "acd-own-g2", "g2", "routing-acd"
    for item in (own, from_gateway):
        subject = naming.event_subject("eu", TENANT, "contact_queued", item.contact_id)
        await js.publish(subject, item.SerializeToString(), headers={"Nats-Msg-Id": item.event_id})

    offer = events_pb2.Event.FromString((await offered_events.next_msg(timeout=10)).data).contact_offered
    assert offer.agent_id == "v1"  # a1 is offline; v1 speaks de and takes voice
    record = orjson.loads(await stored(routing, "contact.acme.g1") or b"{}")
    assert (record["channel"], record["skills"], record["language"], record["priority"]) == (
        "voice",
        ["billing"],
        "de",
        60,
    )
    assert await stored(routing, "contact.acme.g2") is None
    await offered_events.unsubscribe()


async def test_service_level_targets_per_channel_are_configured_and_reported(routing: Platform) -> None:
    admin = routing.stub(RoutingServiceStub, role="admin")
    await admin.ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT,
            queue=pb.QueueDefinition(
                name="sales",
                service_level=pb.ServiceLevelTarget(answered_fraction=0.9, within_seconds=30),
                channel_service_levels=[
                    pb.ChannelServiceLevel(
                        channel=common_pb2.CHANNEL_KIND_VOICE,
                        target=pb.ServiceLevelTarget(answered_fraction=0.8, within_seconds=15),
                    )
                ],
            ),
        )
    )
    supervisor = routing.stub(RoutingServiceStub, role="supervisor")
    voice = await supervisor.GetQueueStats(
        pb.GetQueueStatsRequest(tenant_id=TENANT, queue="sales", channel=common_pb2.CHANNEL_KIND_VOICE)
    )
    assert (voice.target.answered_fraction, voice.target.within_seconds) == (0.8, 15.0)
    # Nothing arrived: nothing measured, and so the target is not (yet) met.
    assert (voice.measured_service_level, voice.measured_contacts, voice.meets_target) == (-1.0, 0, False)
    every = await supervisor.GetQueueStats(pb.GetQueueStatsRequest(tenant_id=TENANT, queue="sales"))
    assert (every.target.answered_fraction, every.target.within_seconds) == (0.9, 30.0)

    before = await stored(routing, "queue.acme.sales")
    bad = pb.QueueDefinition(
        name="sales",
        channel_service_levels=[
            pb.ChannelServiceLevel(
                channel=common_pb2.CHANNEL_KIND_WEBCHAT,
                target=pb.ServiceLevelTarget(answered_fraction=1.5, within_seconds=20),
            )
        ],
    )
    with pytest.raises(RpcError) as caught:
        await admin.ConfigureQueue(pb.ConfigureQueueRequest(tenant_id=TENANT, queue=bad))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("queue.channel_service_levels[0].target.answered_fraction:")
    assert await stored(routing, "queue.acme.sales") == before
    with pytest.raises(RpcError) as caught:
        await supervisor.GetQueueStats(
            pb.GetQueueStatsRequest(tenant_id=TENANT, queue="sales", window_seconds=-5)
        )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith("window_seconds:")
