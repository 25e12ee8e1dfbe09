"""Before `ccctl apply` stores documents that name queues: do those queues exist, for the brand?

Queues live in routing (configured through its API), not in the config plane, so these checks ask
routing in the document's region for the tenant's queues:

- a ChannelEndpoint must not hand a brand's customers to another isolated brand's queue
  (refused, naming `spec.queue`); a queue routing does not know yet is not judged (endpoints are
  often applied before their queues are configured);
- an overflow rule of a ContactCenter must name queues that exist: `queue` in its region,
  `targetQueue` in `targetRegion` (or its own region).

When routing cannot be asked (no secret, nobody serving there), the check is skipped and a note
says so; it never blocks an apply on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nats.aio.client import Client

from ccmesh.auth import TokenAuthority
from ccmesh.configplane.base import Model
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.references import endpoint_queue_problem
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

#: Queue name -> (brand, brands it shares its agents with).
QueueBrands = dict[str, tuple[str, list[str]]]


class RoutingQueues:
    """The tenants' queues per region, each asked of routing once (shared by every check of
    `ccctl apply` that names queues)."""

    def __init__(self, nc: Client, secret: str) -> None:
        self._nc = nc
        self._authority = TokenAuthority(secret)
        self._known: dict[tuple[str, str], QueueBrands | None] = {}
        self.notes: list[str] = []

    async def of(self, region: str, tenant: str) -> QueueBrands | None:
        key = (region, tenant)
        if key not in self._known:
            self._known[key] = await self._ask(region, tenant)
        return self._known[key]

    async def _ask(self, region: str, tenant: str) -> QueueBrands | None:
        token = self._authority.mint(tenant, "admin", "ccctl-apply", 60)
        channel = MeshChannel(self._nc, region, token=token, default_timeout=5.0)
        routing: Any = mesh_stub(RoutingServiceStub, channel)
        try:
            listed = await routing.ListQueues(routing_pb2.ListQueuesRequest(tenant_id=tenant))
        except (RpcError, TimeoutError) as error:
            self.notes.append(
                f"queues of tenant {tenant!r} in {region!r} not checked: routing did not answer ({error})"
            )
            return None
        return {q.name: (q.brand, list(q.shared_brands)) for q in listed.queues}


async def queue_problems(
    nc: Client, secret: str | None, documents: Iterable[Model]
) -> tuple[list[str], list[str]]:
    """(problems, notes): references to queues that are wrong; checks that were skipped."""
    listed = list(documents)
    endpoints = [d for d in listed if isinstance(d, ChannelEndpoint) and d.spec.queue and d.spec.brand]
    centers = [d for d in listed if isinstance(d, ContactCenter) and d.spec.routing.overflow]
    if not endpoints and not centers:
        return [], []
    if secret is None:
        return [], ["queues not checked: no auth secret (CC_AUTH_SECRET or .data/auth-secret)"]
    queues = RoutingQueues(nc, secret)
    problems: list[str] = []
    for endpoint in endpoints:
        known = await queues.of(endpoint.spec.region, endpoint.spec.tenant)
        problem = endpoint_queue_problem(endpoint, known or {})
        if problem:
            problems.append(problem)
    for center in centers:
        problems += await _overflow_problems(center, queues)
    return problems, queues.notes


async def _overflow_problems(center: ContactCenter, queues: RoutingQueues) -> list[str]:
    problems = []
    region = center.spec.region
    for index, rule in enumerate(center.spec.routing.overflow):
        where = f"contactcenter/{center.metadata.name}: spec.routing.overflow[{index}]"
        target_region = rule.target_region or region
        for field, name, in_region in (
            ("queue", rule.queue, region),
            ("targetQueue", rule.target_queue, target_region),
        ):
            known = await queues.of(in_region, rule.tenant)
            if known is not None and name not in known:
                problems.append(
                    f"{where}.{field} (rule {rule.name!r}): tenant {rule.tenant!r} has no queue {name!r} "
                    f"in region {in_region!r}; its queues there: {sorted(known)}"
                )
    return problems
