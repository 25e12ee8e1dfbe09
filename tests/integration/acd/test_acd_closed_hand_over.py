"""A closed queue whose closed action names another region's queue hands its contacts over there
(follow-the-sun when eu is closed), on a real two-region supercluster; the customer is served by
the other region's agent, never dropped."""

from __future__ import annotations

import pytest

from ccmesh.testing.topologies import SuperclusterTopology
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb

from .test_acd_cross_region import TENANT, contact_record, example, routing_in_regions, stub, until_serving

pytestmark = pytest.mark.timeout(120)


async def test_a_closed_queue_hands_its_contact_to_the_other_regions_queue(
    nats_supercluster: SuperclusterTopology,
) -> None:
    urls = {region: nats_supercluster.urls_of(region)[0] for region in ("eu", "us")}
    async with routing_in_regions(urls, [example("eu"), example("us")]) as clients:
        eu, us = stub(clients, "eu"), stub(clients, "us")
        await until_serving(eu)
        await until_serving(us)
        await us.ConfigureQueue(
            pb.ConfigureQueueRequest(tenant_id=TENANT, queue=pb.QueueDefinition(name="us-support"))
        )
        closed_to_us = pb.QueueHours(
            time_zone="Europe/Berlin",  # no opening window: closed whenever the test runs
            closed_action="queue",
            closed_target_queue="us-support",
            closed_target_region="us",
        )
        await eu.ConfigureQueue(
            pb.ConfigureQueueRequest(
                tenant_id=TENANT, queue=pb.QueueDefinition(name="eu-support", hours=closed_to_us)
            )
        )
        await us.UpsertAgent(
            pb.UpsertAgentRequest(tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="us-agent"))
        )
        await us.SetAgentState(
            pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="us-agent", state=pb.AGENT_STATE_AVAILABLE)
        )
        offered = (
            await clients["us"]
            .jetstream()
            .subscribe("ccevt.us.acme.contact_offered.n1", ordered_consumer=True)
        )
        await stub(clients, "eu", role="integration").EnqueueContact(
            pb.EnqueueContactRequest(
                tenant_id=TENANT, contact_id="n1", queue="eu-support", channel=common_pb2.CHANNEL_KIND_WEBCHAT
            )
        )
        offer = events_pb2.Event.FromString((await offered.next_msg(timeout=30)).data)
        assert (offer.contact_offered.agent_id, offer.contact_offered.queue) == ("us-agent", "us-support")
        here = await contact_record(clients["eu"], "eu", "n1")
        assert here is not None and here["status"] in ("transferring", "transferred")
