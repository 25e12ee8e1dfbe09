"""In-memory stores for routing's journey use cases (`routing.adapters.flow_store` Protocols)."""

from __future__ import annotations

import copy
from typing import Any

from ccflow.journey import Journey
from ccflow.registry import FlowIndex
from routing.adapters.flow_store import StoreConflict, StoredVersion


class FakeFlows:
    def __init__(self) -> None:
        self.indexes: dict[tuple[str, str], FlowIndex] = {}
        self.versions: dict[tuple[str, str, int], StoredVersion] = {}

    async def index(self, tenant: str, flow: str) -> FlowIndex:
        return copy.deepcopy(self.indexes.get((tenant, flow), FlowIndex(flow=flow)))

    async def change_index(self, tenant: str, flow: str, change: Any) -> FlowIndex:
        index = await self.index(tenant, flow)
        change(index)
        self.indexes[(tenant, flow)] = index
        return index

    async def put_version(self, tenant: str, flow: str, version: StoredVersion) -> bool:
        return self.versions.setdefault((tenant, flow, version.version), version) is version

    async def version(self, tenant: str, flow: str, number: int) -> StoredVersion | None:
        return self.versions.get((tenant, flow, number))


class FakeJourneys:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}

    async def get(self, tenant: str, journey_id: str) -> tuple[Journey, int] | None:
        found = self.records.get((tenant, journey_id))
        return (Journey.from_dict(copy.deepcopy(found[0])), found[1]) if found else None

    async def save(self, tenant: str, journey: Journey, revision: int) -> int:
        current = self.records.get((tenant, journey.journey_id), (None, 0))[1]
        if current != revision:
            raise StoreConflict("changed")
        self.records[(tenant, journey.journey_id)] = (copy.deepcopy(journey.to_dict()), current + 1)
        return current + 1


class FakePolicies:
    async def all(self, tenant: str) -> dict[str, tuple[str, str]]:
        return {}
