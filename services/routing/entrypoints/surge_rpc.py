"""The surge guard's RPCs of RoutingService: engage, release and show fallback policies."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.auth import Caller
from contactcenter.routing.v1 import routing_pb2
from routing.domain.fallback_engine import UnknownPolicy
from routing.service_layer.surge_guard import SurgeGuard

SURGE_ROLES = frozenset({"admin", "supervisor"})


class SurgeRpc:
    _access: AccessControl
    _surge: SurgeGuard | None

    async def EngageFallback(
        self, request: routing_pb2.EngageFallbackRequest, context: Any
    ) -> routing_pb2.FallbackStatusResponse:
        caller = await self._access.require(context, request.tenant_id, SURGE_ROLES)
        guard = await self._guard(context)
        await self._require_policy_queue(context, guard, caller, request.tenant_id, request.policy)
        try:
            await guard.engage(request.tenant_id, request.policy, by=caller.subject)
        except UnknownPolicy as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        return await self._status(guard, request.tenant_id, caller)

    async def ReleaseFallback(
        self, request: routing_pb2.ReleaseFallbackRequest, context: Any
    ) -> routing_pb2.FallbackStatusResponse:
        caller = await self._access.require(context, request.tenant_id, SURGE_ROLES)
        guard = await self._guard(context)
        await self._require_policy_queue(context, guard, caller, request.tenant_id, request.policy)
        try:
            await guard.release(request.tenant_id, request.policy, by=caller.subject)
        except UnknownPolicy as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        return await self._status(guard, request.tenant_id, caller)

    async def GetFallbackStatus(
        self, request: routing_pb2.GetFallbackStatusRequest, context: Any
    ) -> routing_pb2.FallbackStatusResponse:
        caller = await self._access.require(context, request.tenant_id, SURGE_ROLES)
        return await self._status(await self._guard(context), request.tenant_id, caller)

    async def _guard(self, context: Any) -> SurgeGuard:
        if self._surge is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this routing instance runs no surge guard")
        assert self._surge is not None
        return self._surge

    async def _require_policy_queue(
        self, context: Any, guard: SurgeGuard, caller: Caller, tenant: str, name: str
    ) -> None:
        """PERMISSION_DENIED for a queue-scoped caller acting on another queue's policy."""
        for policy, _ in await guard.status(tenant):
            if policy.name == name and not caller.may_see_queue(name=policy.queue):
                await self._access.deny(
                    context,
                    caller,
                    f"caller is limited to queue(s) {sorted(caller.queues)} and may not act on "
                    f"policy {name!r} of queue {policy.queue or '(every queue)'!r}",
                )

    @staticmethod
    async def _status(guard: SurgeGuard, tenant: str, caller: Caller) -> routing_pb2.FallbackStatusResponse:
        listed = []
        for policy, state in await guard.status(tenant):
            # A queue-scoped caller sees its queues' policies only.
            if not caller.may_see_queue(name=policy.queue):
                continue
            evidence = state.evidence
            listed.append(
                routing_pb2.FallbackPolicyStatus(
                    policy=policy.name,
                    queue=policy.queue,
                    phase=str(state.phase),
                    manual=state.manual,
                    engaged_at=state.engaged_at if state.phase in ("engaged", "releasing") else 0.0,
                    metric=evidence.metric if evidence else "",
                    value=evidence.value if evidence else 0.0,
                    baseline=evidence.baseline if evidence else 0.0,
                    score=evidence.score if evidence else 0.0,
                    actions=[step.describe() for step in policy.steps],
                )
            )
        return routing_pb2.FallbackStatusResponse(policies=listed)
