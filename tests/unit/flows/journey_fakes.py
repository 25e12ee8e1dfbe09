"""In-memory stores for routing's journey use cases (`routing.adapters.flow_store` Protocols)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ccflow.journey import Journey
from ccflow.registry import FlowIndex
from ccmesh.outbox import Entry
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
        #: Per journey, the messages saved with each of its steps (the record's outbox).
        self.staged: dict[tuple[str, str], list[Entry]] = {}

    async def get(self, tenant: str, journey_id: str) -> tuple[Journey, int] | None:
        found = self.records.get((tenant, journey_id))
        return (Journey.from_dict(copy.deepcopy(found[0])), found[1]) if found else None

    async def save(self, tenant: str, journey: Journey, revision: int, announce: Sequence[Entry] = ()) -> int:
        current = self.records.get((tenant, journey.journey_id), (None, 0))[1]
        if current != revision:
            raise StoreConflict("changed")
        self.staged.setdefault((tenant, journey.journey_id), []).extend(announce)
        self.records[(tenant, journey.journey_id)] = (copy.deepcopy(journey.to_dict()), current + 1)
        return current + 1


class FakePolicies:
    async def all(self, tenant: str) -> dict[str, tuple[str, str]]:
        return {}


class FakeDeadlines:
    """The region's index of journey deadlines, shared by the service instances of one test;
    `instance()` is what one instance holds (its watch ends with its `stop`)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Any] = {}
        self.followers: list[tuple[Any, Any]] = []

    def instance(self) -> _DeadlineView:
        return _DeadlineView(self)


class _DeadlineView:
    def __init__(self, shared: FakeDeadlines) -> None:
        self._shared = shared
        self._mine: list[tuple[Any, Any]] = []

    async def put(self, deadline: Any) -> None:
        self._shared.entries[deadline.key] = deadline
        for arm, _ in list(self._shared.followers):
            arm(deadline)

    async def remove(self, deadline: Any) -> None:
        current = self._shared.entries.get(deadline.key)
        if current is not None and current.point == deadline.point:
            del self._shared.entries[deadline.key]
            for _, disarm in list(self._shared.followers):
                disarm(*deadline.key)

    async def follow(self, arm: Any, disarm: Any) -> None:
        for deadline in list(self._shared.entries.values()):
            arm(deadline)
        self._mine.append((arm, disarm))
        self._shared.followers.append((arm, disarm))

    async def stop(self) -> None:
        for follower in self._mine:
            self._shared.followers.remove(follower)
        self._mine.clear()


class FakeRelay:
    """Flow events offered between the service instances of one test (as NATS request/reply)."""

    def __init__(self) -> None:
        self.listeners: dict[tuple[str, str], Any] = {}

    async def listen(self, tenant: str, contact_id: str, take: Any) -> Any:
        self.listeners[(tenant, contact_id)] = take

        async def stop() -> None:
            if self.listeners.get((tenant, contact_id)) is take:
                del self.listeners[(tenant, contact_id)]

        return stop

    async def offer(self, tenant: str, contact_id: str, event_name: str, data: Any) -> str:
        take = self.listeners.get((tenant, contact_id))
        return str(take(event_name, data)) if take is not None else ""
