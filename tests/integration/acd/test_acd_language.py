"""Language required or preferred per queue, widening with the wait, through RoutingService on
the mesh; ExplainDecision shows the rule and the ring that applied; bad rules are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture

from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2 as pb
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(60)
TENANT = "acme"


def as_agent(platform: Platform, agent_id: str) -> Any:  # noqa: F811
    token = platform.authority.mint(TENANT, "agent", agent_id, 300)
    return mesh_stub(RoutingServiceStub, MeshChannel(platform.nc, "eu", token=token, default_timeout=5.0))


@pytest.fixture
async def routing(platform: Platform) -> AsyncIterator[Platform]:  # noqa: F811
    await platform.start("routing")
    yield platform


async def queue(platform: Platform, name: str, language: str, widening: list[tuple[float, str]]) -> None:  # noqa: F811
    await platform.stub(RoutingServiceStub, role="admin").ConfigureQueue(
        pb.ConfigureQueueRequest(
            tenant_id=TENANT,
            queue=pb.QueueDefinition(
                name=name,
                language=language,
                language_widening=[pb.LanguageStep(after_seconds=a, mode=m) for a, m in widening],
            ),
        )
    )


async def available(platform: Platform, agent_id: str, languages: list[str]) -> None:  # noqa: F811
    await platform.stub(RoutingServiceStub, role="supervisor").UpsertAgent(
        pb.UpsertAgentRequest(
            tenant_id=TENANT,
            agent=pb.AgentDefinition(
                agent_id=agent_id,
                languages=languages,
                capacity=[pb.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=1)],
            ),
        )
    )
    await as_agent(platform, agent_id).SetAgentState(
        pb.SetAgentStateRequest(tenant_id=TENANT, agent_id=agent_id, state=pb.AGENT_STATE_AVAILABLE)
    )


async def enqueue(platform: Platform, contact_id: str, queue_name: str, language: str) -> None:  # noqa: F811
    await platform.stub(RoutingServiceStub, role="integration").EnqueueContact(
        pb.EnqueueContactRequest(
            tenant_id=TENANT,
            contact_id=contact_id,
            queue=queue_name,
            channel=common_pb2.CHANNEL_KIND_WEBCHAT,
            language=language,
        )
    )


async def decision(platform: Platform, contact_id: str) -> Any:  # noqa: F811
    supervisor = platform.stub(RoutingServiceStub, role="supervisor")

    async def offered() -> Any:
        try:
            return await supervisor.ExplainDecision(
                pb.ExplainDecisionRequest(tenant_id=TENANT, contact_id=contact_id)
            )
        except RpcError as error:
            assert error.code == grpc.StatusCode.NOT_FOUND
            return None

    return await eventually(offered)


async def test_required_language_waits_for_a_speaker_who_logs_in_later(routing: Platform) -> None:
    await queue(routing, "support", "required", [])
    await available(routing, "de1", ["de"])
    await enqueue(routing, "c-es", "support", "es")
    await enqueue(routing, "c-de", "support", "de")
    # The German contact, behind the Spanish one, goes to the German agent; the Spanish one waits.
    assert (await decision(routing, "c-de")).agent_id == "de1"
    await available(routing, "es1", ["es"])
    explained = await decision(routing, "c-es")
    assert (explained.agent_id, explained.language_rule, explained.language_ring) == (
        "es1",
        "es required (language ring 0)",
        0,
    )
    assert any(c.agent_id == "de1" and c.rejected == "does not speak es" for c in explained.candidates) or (
        # de1 holds the German contact (capacity 1): it has no room, so the walk never met it.
        all(c.agent_id != "de1" for c in explained.candidates)
    )


async def test_preferred_language_takes_a_speaker_first(routing: Platform) -> None:
    await queue(routing, "support", "preferred", [])
    await available(routing, "de1", ["de"])  # idle the longest
    await available(routing, "ja1", ["ja"])
    await enqueue(routing, "c-ja", "support", "ja")
    explained = await decision(routing, "c-ja")
    assert (explained.agent_id, explained.language_rule) == ("ja1", "ja preferred (language ring 0)")


async def test_the_rule_widens_after_the_wait_and_explain_shows_the_ring(routing: Platform) -> None:
    await queue(routing, "support", "required", [(0.5, "preferred"), (1.0, "any")])
    await available(routing, "de1", ["de"])
    await enqueue(routing, "c-ar", "support", "ar")
    explained = await decision(routing, "c-ar")  # nobody speaks Arabic: taken once the rule widened
    assert explained.agent_id == "de1"
    assert explained.language_ring in (1, 2)
    assert explained.language_rule in ("ar preferred (language ring 1)", "ar any (language ring 2)")


@pytest.mark.parametrize(
    ("language", "widening", "field"),
    [
        ("sometimes", [], "language"),
        ("preferred", [(30.0, "required")], "language_widening[0].mode"),
        ("required", [(0.0, "any")], "language_widening[0].after_seconds"),
    ],
)
async def test_bad_language_rules_are_refused_naming_the_field(
    routing: Platform, language: str, widening: list[tuple[float, str]], field: str
) -> None:
    with pytest.raises(RpcError) as caught:
        await queue(routing, "support", language, widening)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"{field}:")
