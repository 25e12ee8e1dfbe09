"""IdentityService handlers for agents and API tokens."""

from __future__ import annotations

import time
from typing import Any

import grpc

from ccmesh.auth import ANY_TENANT
from ccmesh.configplane.models import Tenant
from ccmesh.rpc_context import abort
from contactcenter.identity.v1 import identity_pb2
from identity.domain.agents import ApiToken, InvalidAgent, check_token_request, new_token, token_hash
from identity.entrypoints import convert
from identity.entrypoints.base import ADMIN, READ_ROLES, SERVICE, HandlerBase, check_customer_id, invalid


class AgentHandlers(HandlerBase):
    async def UpsertAgent(
        self, request: identity_pb2.UpsertAgentRequest, context: Any
    ) -> identity_pb2.UpsertAgentResponse:
        ref = request.agent.tenant
        await self._d.access.require(context, ref.tenant_id, ADMIN, "agents:write")
        tenant = await self._tenant(context, ref.tenant_id, "")
        agent = convert.agent_from(request.agent, self._d.region)
        if agent.home_region != self._d.region:
            await invalid(
                context,
                f"agent.home_region: {agent.home_region!r}; an agent is stored in its home region, "
                f"call that region instead of {self._d.region!r}",
            )
        try:
            agent.validate({b.id for b in tenant.brands})
        except InvalidAgent as error:
            await invalid(context, str(error))
        revision = await self._d.agents.put_agent(agent)
        return identity_pb2.UpsertAgentResponse(agent=convert.agent_to(agent, revision))

    async def GetAgent(
        self, request: identity_pb2.GetAgentRequest, context: Any
    ) -> identity_pb2.GetAgentResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, READ_ROLES, "agents:read")
        tenant = await self._tenant(context, ref.tenant_id, ref.brand_id)
        await check_customer_id(context, request.agent_id, "agent_id")
        found = await self._d.agents.get_agent(tenant.id, request.agent_id)
        if found is None or not self._agent_visible(tenant, ref.brand_id, found[0].brands):
            await abort(context, grpc.StatusCode.NOT_FOUND, f"agent {request.agent_id!r} not found")
        return identity_pb2.GetAgentResponse(agent=convert.agent_to(*found))

    async def ListAgents(
        self, request: identity_pb2.ListAgentsRequest, context: Any
    ) -> identity_pb2.ListAgentsResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, READ_ROLES, "agents:read")
        tenant = await self._tenant(context, ref.tenant_id, ref.brand_id)
        agents = [
            convert.agent_to(agent, revision)
            for agent, revision in await self._d.agents.list_agents(tenant.id)
            if self._agent_visible(tenant, ref.brand_id, agent.brands)
        ]
        return identity_pb2.ListAgentsResponse(agents=agents)

    @staticmethod
    def _agent_visible(tenant: Tenant, brand_id: str, brands: tuple[str, ...]) -> bool:
        """Isolated brands see only their own agents; shared brands see the tenant's pool."""
        return tenant.brand_sharing != "isolated" or not brand_id or brand_id in brands

    async def CreateApiToken(
        self, request: identity_pb2.CreateApiTokenRequest, context: Any
    ) -> identity_pb2.CreateApiTokenResponse:
        ref = request.tenant
        caller = await self._d.access.require(context, ref.tenant_id, ADMIN)
        tenant = await self._tenant(context, ref.tenant_id, "")
        try:
            check_token_request(request.role, list(request.scopes), request.ttl_seconds)
        except InvalidAgent as error:
            await invalid(context, str(error))
        token, token_id = new_token()
        await self._d.agents.put_token(
            token_hash(token),
            ApiToken(
                token_id=token_id,
                tenant_id=tenant.id,
                role=request.role,
                subject=request.subject or f"token:{token_id}:{caller.subject}",
                scopes=tuple(request.scopes),
                expires_at=time.time() + request.ttl_seconds,
            ),
        )
        return identity_pb2.CreateApiTokenResponse(token=token, token_id=token_id)

    async def RevokeApiToken(
        self, request: identity_pb2.RevokeApiTokenRequest, context: Any
    ) -> identity_pb2.RevokeApiTokenResponse:
        ref = request.tenant
        await self._d.access.require(context, ref.tenant_id, ADMIN)
        tenant = await self._tenant(context, ref.tenant_id, "")
        if not await self._d.agents.revoke(tenant.id, request.token_id):
            await abort(context, grpc.StatusCode.NOT_FOUND, f"token {request.token_id!r} not found")
        return identity_pb2.RevokeApiTokenResponse()

    async def VerifyApiToken(
        self, request: identity_pb2.VerifyApiTokenRequest, context: Any
    ) -> identity_pb2.VerifyApiTokenResponse:
        await self._d.access.require(context, ANY_TENANT, SERVICE)
        record = await self._d.agents.token(token_hash(request.token))
        if record is None or record.revoked or record.expires_at < time.time():
            await abort(context, grpc.StatusCode.UNAUTHENTICATED, "API token is unknown, revoked or expired")
        return identity_pb2.VerifyApiTokenResponse(
            tenant_id=record.tenant_id, role=record.role, subject=record.subject, scopes=list(record.scopes)
        )
