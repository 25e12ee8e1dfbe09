"""The surge guard's RPCs of RoutingService: engage, release and show fallback policies."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
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
        try:
            await guard.engage(request.tenant_id, request.policy, by=caller.subject)
        except UnknownPolicy as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        return await self._status(guard, request.tenant_id)

    async def ReleaseFallback(
        self, request: routing_pb2.ReleaseFallbackRequest, context: Any
    ) -> routing_pb2.FallbackStatusResponse:
        caller = await self._access.require(context, request.tenant_id, SURGE_ROLES)
        guard = await self._guard(context)
        try:
            await guard.release(request.tenant_id, request.policy, by=caller.subject)
        except UnknownPolicy as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        return await self._status(guard, request.tenant_id)

    async def GetFallbackStatus(
        self, request: routing_pb2.GetFallbackStatusRequest, context: Any
    ) -> routing_pb2.FallbackStatusResponse:
        await self._access.require(context, request.tenant_id, SURGE_ROLES)
        return await self._status(await self._guard(context), request.tenant_id)

    async def _guard(self, context: Any) -> SurgeGuard:
        if self._surge is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this routing instance runs no surge guard")
        assert self._surge is not None
        return self._surge

    @staticmethod
    async def _status(guard: SurgeGuard, tenant: str) -> routing_pb2.FallbackStatusResponse:
        listed = []
        for policy, state in await guard.status(tenant):
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
