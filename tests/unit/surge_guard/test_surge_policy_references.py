"""Before apply: a policy's queues and journeys must exist in routing; `ccctl surge status` output."""

from __future__ import annotations

from ccctl.commands.surge_control import render
from ccctl.surge_references import policy_problems
from ccmesh.configplane.surge import FallbackAction, SurgePolicy
from contactcenter.routing.v1 import routing_pb2

WHERE = "contactcenter/eu: spec.surge.policies[0]"


class FakeRouting:
    """Routing of two regions: eu knows support and billing; us cannot be asked."""

    def __init__(self) -> None:
        self.flows = {("support", 2): ["canary", "live"]}

    async def queues(self, region: str, tenant: str) -> set[str] | None:
        return {"support", "billing"} if region == "eu" else None

    async def flow_problem(self, region: str, tenant: str, action: FallbackAction) -> str | None:
        aliases = self.flows.get((action.flow, action.version))
        if aliases is None:
            return f"flow {action.flow!r} has no version {action.version}"
        return "" if action.alias in aliases else f"flow {action.flow!r} has no alias {action.alias!r}"


def policy(queue: str, *actions: dict[str, object]) -> SurgePolicy:
    return SurgePolicy.model_validate(
        {"name": "burst", "tenant": "acme", "queue": queue, "actions": list(actions)}
    )


async def test_known_queues_and_journeys_pass() -> None:
    good = policy(
        "support",
        {"type": "overflow", "targetQueue": "billing"},
        {"type": "journey", "flow": "support", "version": 2, "alias": "canary"},
        {"type": "overflow", "targetQueue": "anything", "targetRegion": "us"},  # us could not be asked
    )
    assert await policy_problems(FakeRouting(), "eu", good, WHERE) == []


async def test_each_unknown_name_is_refused_naming_its_field() -> None:
    bad = policy(
        "sales",
        {"type": "callback"},
        {"type": "overflow", "targetQueue": "nowhere"},
        {"type": "journey", "flow": "support", "version": 7},
        {"type": "journey", "flow": "support", "version": 2, "alias": "blue"},
    )
    problems = await policy_problems(FakeRouting(), "eu", bad, WHERE)
    assert problems == [
        f"{WHERE}.queue (policy 'burst'): tenant 'acme' has no queue 'sales' in region 'eu'; "
        "its queues there: ['billing', 'support']",
        f"{WHERE}.actions[1].targetQueue (policy 'burst'): tenant 'acme' has no queue 'nowhere' in "
        "region 'eu'; its queues there: ['billing', 'support']",
        f"{WHERE}.actions[2].flow (policy 'burst'): flow 'support' has no version 7",
        f"{WHERE}.actions[3].flow (policy 'burst'): flow 'support' has no alias 'blue'",
    ]


def test_status_shows_engaged_policies_with_their_evidence() -> None:
    reply = routing_pb2.FallbackStatusResponse(
        policies=[
            routing_pb2.FallbackPolicyStatus(
                policy="burst",
                queue="support",
                phase="engaged",
                engaged_at=1795769900.0,
                metric="waiting",
                value=12,
                baseline=1,
                score=7.6,
                actions=["callback", "notify"],
            ),
            routing_pb2.FallbackPolicyStatus(
                policy="quiet", phase="normal", manual="released", actions=["scale"]
            ),
        ]
    )
    lines = render(reply).splitlines()
    assert lines[0].split() == ["POLICY", "QUEUE", "PHASE", "SINCE", "EVIDENCE", "ACTIONS"]
    assert lines[1].split() == [
        "burst",
        "support",
        "engaged",
        "2026-11-27T08:58:20Z",
        "waiting=12",
        "baseline=1",
        "score=7.60",
        "callback,notify",
    ]
    assert lines[2].split() == ["quiet", "*", "normal", "(manual", "released)", "-", "-", "scale"]
    assert render(routing_pb2.FallbackStatusResponse()).startswith("no surge policies")
