"""Before `ccctl apply` stores a ContactCenter's fallback policies: do their queues and journeys exist?

Queues and flows live in routing, not in the config plane, so routing in the document's region is
asked (once per tenant): a policy's `queue` and an `overflow` action's `targetQueue` (in its
`targetRegion`) must be queues of the tenant there; a `journey` action's `flow` must have the
fallback `version` published and an alias named `alias`. Each refusal names the field. The
tenant and the regions are checked by the model itself (`ccmesh.configplane.contactcenter`).

When routing cannot be asked (no secret, nobody serving there), the check is skipped and a note
says so, as for the other references routing owns (`ccctl.queue_references`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import grpc
from nats.aio.client import Client

from ccctl.queue_references import RoutingQueues
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.base import Model
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.surge import FallbackAction, SurgePolicy
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub


class RoutingAnswers(Protocol):
    """What the checks ask routing (None: routing could not say, the check is skipped)."""

    async def queues(self, region: str, tenant: str) -> set[str] | None: ...

    async def flow_problem(self, region: str, tenant: str, action: FallbackAction) -> str | None: ...


class _Routing:
    """Routing of each region, asked about a tenant's queues and flows (answers remembered)."""

    def __init__(self, nc: Client, secret: str) -> None:
        self._nc = nc
        self._authority = TokenAuthority(secret)
        self._queues = RoutingQueues(nc, secret)
        self.notes = self._queues.notes

    def _stub(self, region: str, tenant: str) -> Any:
        token = self._authority.mint(tenant, "admin", "ccctl-apply", 60)
        return mesh_stub(RoutingServiceStub, MeshChannel(self._nc, region, token=token, default_timeout=5.0))

    async def queues(self, region: str, tenant: str) -> set[str] | None:
        known = await self._queues.of(region, tenant)
        return None if known is None else set(known)

    async def flow_problem(self, region: str, tenant: str, action: FallbackAction) -> str | None:
        """Why the journey action's flow, version or alias does not exist ("" when they do; None
        when routing could not say)."""
        request = routing_pb2.GetFlowVersionRequest(
            tenant_id=tenant, flow=action.flow, version=action.version
        )
        try:
            reply = await self._stub(region, tenant).GetFlowVersion(request)
        except RpcError as error:
            if error.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return error.message
            self.notes.append(f"flow {action.flow!r} of tenant {tenant!r} not checked: {error}")
            return None
        except TimeoutError as error:
            self.notes.append(f"flow {action.flow!r} of tenant {tenant!r} not checked: {error}")
            return None
        aliases = sorted(a.alias for a in reply.aliases)
        if action.alias not in aliases:
            return f"flow {action.flow!r} has no alias {action.alias!r}; its aliases: {aliases}"
        return ""


async def surge_policy_problems(
    nc: Client, secret: str | None, documents: Iterable[Model]
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the fallback policies of the ContactCenters among `documents`."""
    centers = [d for d in documents if isinstance(d, ContactCenter) and d.spec.surge.policies]
    if not centers:
        return [], []
    if secret is None:
        return [], [
            "surge policies not checked against routing: no auth secret (CC_AUTH_SECRET or .data/auth-secret)"
        ]
    routing = _Routing(nc, secret)
    problems: list[str] = []
    for center in centers:
        for index, policy in enumerate(center.spec.surge.policies):
            where = f"contactcenter/{center.metadata.name}: spec.surge.policies[{index}]"
            problems += await policy_problems(routing, center.spec.region, policy, where)
    return problems, routing.notes


async def policy_problems(routing: RoutingAnswers, region: str, policy: SurgePolicy, where: str) -> list[str]:
    """Each queue and journey of `policy` that routing says does not exist, naming the field."""
    problems = []
    tenant = policy.tenant
    if policy.queue:
        known = await routing.queues(region, tenant)
        if known is not None and policy.queue not in known:
            problems.append(
                f"{where}.queue (policy {policy.name!r}): tenant {tenant!r} has no queue {policy.queue!r} "
                f"in region {region!r}; its queues there: {sorted(known)}"
            )
    for number, action in enumerate(policy.actions):
        field = f"{where}.actions[{number}]"
        if action.type == "overflow":
            target_region = action.target_region or region
            known = await routing.queues(target_region, tenant)
            if known is not None and action.target_queue not in known:
                problems.append(
                    f"{field}.targetQueue (policy {policy.name!r}): tenant {tenant!r} has no queue "
                    f"{action.target_queue!r} in region {target_region!r}; its queues there: {sorted(known)}"
                )
        elif action.type == "journey":
            problem = await routing.flow_problem(region, tenant, action)
            if problem:
                problems.append(f"{field}.flow (policy {policy.name!r}): {problem}")
    return problems
