"""Follow-the-sun at run time on a real two-region supercluster (eu, us), one routing service
per region: an overflow rule to us hands a waiting eu contact to us's queue over the mesh (no
personal data), and the contact leaves eu's queue only once us has stored it; a hand-over us
refuses leaves the contact waiting in eu."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import nats
import orjson
import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.service_host import serve
from ccmesh.status import RpcError
from ccmesh.testing.topologies import SuperclusterTopology
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from routing.__main__ import DEFINITION
from routing.config import RoutingConfig

pytestmark = pytest.mark.timeout(120)
SECRET = "x" * 32
TENANT = "acme"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example(region: str) -> ContactCenter:
    (sourced,) = load_file(EXAMPLES / f"{region}.yaml")
    assert isinstance(sourced.document, ContactCenter)
    return sourced.document


def eu_with_follow_the_sun() -> ContactCenter:
    """eu's example, with acme's residency letting us see its contacts and two rules to us."""
    document = example("eu")
    spec = document.spec
    tenants = [
        t.model_copy(update={"residency": t.residency.model_copy(update={"personal_data_regions": ["us"]})})
        if t.id == TENANT
        else t
        for t in spec.tenants
    ]
    rules = [
        {
            "name": "billing-to-us",
            "tenant": TENANT,
            "queue": "eu-billing",
            "targetQueue": "us-billing",
            "targetRegion": "us",
            "waitSecondsOver": 1,
        },
        {
            "name": "claims-to-us",
            "tenant": TENANT,
            "queue": "eu-claims",
            "targetQueue": "us-no-such-queue",
            "targetRegion": "us",
            "waitSecondsOver": 1,
        },
    ]
    routing = spec.routing.model_validate({"overflow": rules})
    updated = spec.model_copy(update={"tenants": tenants, "routing": routing})
    return ContactCenter.model_validate(document.model_copy(update={"spec": updated}).model_dump())


@asynccontextmanager
async def routing_in_regions(
    urls: dict[str, str], documents: list[ContactCenter]
) -> AsyncIterator[dict[str, NATS]]:
    clients: dict[str, NATS] = {}
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
    try:
        for region, url in urls.items():
            clients[region] = await nats.connect(url, connect_timeout=5)
        for document in documents:
            store = await ConfigStore.open(clients[document.spec.region].jetstream())
            await store.apply(document)
        for region, url in urls.items():
            config = RoutingConfig(
                region=region,
                nats_url=url,
                auth_secret=SECRET,
                grpc_port=-1,
                instance_name=f"routing-{region}",
                placement_by_region=True,
                shutdown_grace_seconds=1.0,
                default_deadline_seconds=5.0,
                acd_tick_seconds=0.1,
            )
            stop = asyncio.Event()
            stops.append((stop, asyncio.create_task(serve(DEFINITION, config, stop))))
        yield clients
    finally:
        for stop, task in reversed(stops):
            stop.set()
            await asyncio.wait_for(task, 20)
        for client in clients.values():
            await client.drain()


def stub(clients: dict[str, NATS], region: str, role: str = "admin") -> Any:
    token = TokenAuthority(SECRET).mint(TENANT, role, f"test-{role}", 300)
    return mesh_stub(
        RoutingServiceStub, MeshChannel(clients[region], region, token=token, default_timeout=5.0)
    )


async def until_serving(routing: Any) -> None:
    async def configured() -> bool:
        try:
            await routing.GetQueueStats(pb.GetQueueStatsRequest(tenant_id=TENANT, queue="none"), timeout=1.0)
        except RpcError as error:
            return bool(error.code == grpc.StatusCode.INVALID_ARGUMENT)  # answered: the service is up
        return True

    await eventually(configured, seconds=30)


async def contact_record(client: NATS, region: str, contact_id: str) -> dict[str, Any] | None:
    kv = await client.jetstream().key_value(naming.acd_bucket(region))
    try:
        entry = await kv.get(f"contact.{TENANT}.{contact_id}")
    except Exception:
        return None
    return dict(orjson.loads(entry.value)) if entry.value else None


async def test_an_overflow_rule_hands_the_contact_to_the_other_regions_queue(
    nats_supercluster: SuperclusterTopology,
) -> None:
    urls = {region: nats_supercluster.urls_of(region)[0] for region in ("eu", "us")}
    async with routing_in_regions(urls, [eu_with_follow_the_sun(), example("us")]) as clients:
        eu, us = stub(clients, "eu"), stub(clients, "us")
        await until_serving(eu)
        await until_serving(us)
        for routing, queue in ((eu, "eu-billing"), (eu, "eu-claims"), (us, "us-billing")):
            definition = pb.QueueDefinition(name=queue, required_skills=["billing"])
            await routing.ConfigureQueue(pb.ConfigureQueueRequest(tenant_id=TENANT, queue=definition))
        await us.UpsertAgent(
            pb.UpsertAgentRequest(
                tenant_id=TENANT, agent=pb.AgentDefinition(agent_id="us-agent", skills={"billing": 3})
            )
        )
        await us.SetAgentState(
            pb.SetAgentStateRequest(tenant_id=TENANT, agent_id="us-agent", state=pb.AGENT_STATE_AVAILABLE)
        )
        eu_js, us_js = clients["eu"].jetstream(), clients["us"].jetstream()
        overflowed = await eu_js.subscribe("ccevt.eu.acme.contact_overflowed.x1", ordered_consumer=True)
        offered = await us_js.subscribe("ccevt.us.acme.contact_offered.x1", ordered_consumer=True)
        eu_kv = await eu_js.key_value(naming.acd_bucket("eu"))
        eu_watch: Any = await eu_kv.watch(f"contact.{TENANT}.x2")

        integration = stub(clients, "eu", role="integration")
        for contact_id, queue in (("x1", "eu-billing"), ("x2", "eu-claims")):
            await integration.EnqueueContact(
                pb.EnqueueContactRequest(
                    tenant_id=TENANT,
                    contact_id=contact_id,
                    queue=queue,
                    channel=common_pb2.CHANNEL_KIND_WEBCHAT,
                    required_skills=["billing"],
                    language="",
                    preferred_agent="eu-agent-7",
                )
            )

        # eu has no agent: after 1 s the rule hands x1 to us, where us-agent is offered it.
        offer = events_pb2.Event.FromString((await offered.next_msg(timeout=30)).data)
        assert (offer.region, offer.contact_offered.agent_id, offer.contact_offered.queue) == (
            "us",
            "us-agent",
            "us-billing",
        )
        event = events_pb2.Event.FromString((await overflowed.next_msg(timeout=30)).data)
        moved = event.contact_overflowed
        assert (event.region, moved.rule, moved.from_queue, moved.to_region, moved.to_queue) == (
            "eu",
            "billing-to-us",
            "eu-billing",
            "us",
            "us-billing",
        )
        there = await contact_record(clients["us"], "us", "x1")
        assert there is not None
        # Only what routing needs crossed: no preferred agent of eu's, channel and skills kept.
        assert (there["queue"], there["channel"], there["skills"], there["preferred_agent"]) == (
            "us-billing",
            "webchat",
            ["billing"],
            "",
        )
        here = await contact_record(clients["eu"], "eu", "x1")
        assert here is not None and (here["status"], here["transfer_to"]) == ("transferred", "us/us-billing")

        # x2's target queue does not exist in us: us refuses, x2 goes back to waiting in eu.
        statuses: list[str] = []

        async def refused_and_back() -> bool:
            with_timeout = await eu_watch.updates(timeout=1.0)
            if with_timeout is not None and with_timeout.value:
                statuses.append(orjson.loads(with_timeout.value)["status"])
            return "transferring" in statuses and statuses[-1] == "waiting"

        await eventually(refused_and_back, seconds=30)
        assert await contact_record(clients["us"], "us", "x2") is None
        await eu_watch.stop()
