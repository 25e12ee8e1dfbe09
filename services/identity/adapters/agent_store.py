"""Agents and API token records in the region's identity bucket.

agent.<tenant>.<agent_id>   the agent identity
tok.<sha256 of token>       an opaque API token's record (the token itself is never stored)
tokid.<tenant>.<token_id>   the hash of a token, to revoke it by id
"""

from __future__ import annotations

from dataclasses import replace

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from identity.adapters.kv_keys import matching_keys
from identity.domain.agents import Agent, ApiToken


class AgentStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def put_agent(self, agent: Agent) -> int:
        return int(await self._kv.put(f"agent.{agent.tenant_id}.{agent.agent_id}", agent.to_json()))

    async def get_agent(self, tenant_id: str, agent_id: str) -> tuple[Agent, int] | None:
        try:
            entry = await self._kv.get(f"agent.{tenant_id}.{agent_id}")
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return Agent.from_json(entry.value), int(entry.revision or 0)

    async def list_agents(self, tenant_id: str) -> list[tuple[Agent, int]]:
        keys = await matching_keys(self._kv, f"agent.{tenant_id}.*")
        found = []
        for key in sorted(keys):
            got = await self.get_agent(tenant_id, key.rsplit(".", 1)[-1])
            if got is not None:
                found.append(got)
        return found

    async def put_token(self, digest: str, record: ApiToken) -> None:
        await self._kv.put(f"tok.{digest}", record.to_json())
        await self._kv.put(f"tokid.{record.tenant_id}.{record.token_id}", digest.encode())

    async def token(self, digest: str) -> ApiToken | None:
        try:
            entry = await self._kv.get(f"tok.{digest}")
        except KeyNotFoundError:
            return None
        return ApiToken.from_json(entry.value) if entry.value else None

    async def revoke(self, tenant_id: str, token_id: str) -> bool:
        try:
            entry = await self._kv.get(f"tokid.{tenant_id}.{token_id}")
        except KeyNotFoundError:
            return False
        if not entry.value:
            return False
        digest = entry.value.decode()
        record = await self.token(digest)
        if record is None:
            return False
        await self._kv.put(f"tok.{digest}", replace(record, revoked=True).to_json())
        return True
