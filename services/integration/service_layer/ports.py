"""What the integration service's action use case needs from the world, as Protocols.

`Actions` names these, never the NATS-backed classes in `adapters/`, so a unit test hands it
in-memory fakes and the integration tests the real stores.
"""

from __future__ import annotations

from typing import Protocol

from integration.adapters.action_log import ActionOutcome
from integration.domain.action_effects import ActionEffects
from integration.domain.events import IntegrationEvent


class ActionOutcomes(Protocol):
    """The first outcome of each idempotency key (`ActionLog`)."""

    async def find(self, tenant_id: str, action_id: str) -> ActionOutcome | None: ...
    async def record(
        self, tenant_id: str, outcome: ActionOutcome, effects: ActionEffects | None = None
    ) -> ActionOutcome:
        """Store the outcome unless one is already there (returns the stored one), and with
        it, in the same write, the `effects` still to publish."""
        ...


class ActionRecords(Protocol):
    """The actions stream the other services apply actions from (`ActionPublisher`)."""

    async def publish(
        self, tenant_id: str, action: str, target_id: str, action_id: str, data: bytes
    ) -> None: ...


class IntegrationEvents(Protocol):
    """Announces the service's domain events (`integration.adapters.event_codec.StreamEvents`)."""

    async def publish(self, event: IntegrationEvent) -> None: ...
