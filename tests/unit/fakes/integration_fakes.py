"""In-memory fakes of the integration action use case's ports (`integration.service_layer.ports`).

They keep the contracts `Actions` relies on: an outcome is recorded once per action id (the
first one stays), and the actions stream drops a repeated action id (its `Nats-Msg-Id`).
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.adapters.action_log import ActionOutcome
from integration.domain.action_effects import ActionEffects

TENANT = "acme"
REGION = "eu"


class FakeActionOutcomes:
    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], ActionOutcome] = {}
        #: What each stored outcome carried to publish, written with it.
        self.staged: dict[tuple[str, str], ActionEffects | None] = {}

    async def find(self, tenant_id: str, action_id: str) -> ActionOutcome | None:
        return self.stored.get((tenant_id, action_id))

    async def record(
        self, tenant_id: str, outcome: ActionOutcome, effects: ActionEffects | None = None
    ) -> ActionOutcome:
        key = (tenant_id, outcome.action_id)
        if key not in self.stored:
            self.staged[key] = effects
        return self.stored.setdefault(key, outcome)


@dataclass(frozen=True)
class PublishedAction:
    tenant_id: str
    action: str
    target_id: str
    action_id: str
    data: bytes


class FakeActionRecords:
    def __init__(self) -> None:
        self.published: list[PublishedAction] = []

    async def publish(self, tenant_id: str, action: str, target_id: str, action_id: str, data: bytes) -> None:
        if any(p.action_id == action_id for p in self.published):
            return  # the stream's de-duplication window drops it
        self.published.append(PublishedAction(tenant_id, action, target_id, action_id, data))
