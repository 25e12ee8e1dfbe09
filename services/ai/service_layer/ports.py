"""What the ai service's use cases need from the world, as Protocols.

The use cases name these, never the NATS-backed classes in `adapters/`, so a unit test hands
them in-memory fakes and the integration tests the real ones.
"""

from __future__ import annotations

from typing import Any, Protocol

from ai.domain.events import AiEvent


class Conversations(Protocol):
    """Each contact's conversation so far, redacted (`TenantStore`)."""

    async def conversation(self, tenant_id: str, contact_id: str) -> dict[str, Any] | None: ...
    async def append_turn(self, tenant_id: str, contact_id: str, turn: dict[str, Any]) -> dict[str, Any]: ...
    async def forget_conversation(self, tenant_id: str, contact_id: str) -> None: ...


class ConversationSync(Protocol):
    """Whether the conversation holds every message of the contact already on the region's
    stream (its consumers follow the stream, a moment behind)."""

    async def caught_up(self, tenant_id: str, contact_id: str, within_seconds: float) -> bool: ...


class AiEvents(Protocol):
    """Announces the service's domain events (`ai.adapters.event_codec.StreamEvents`)."""

    async def publish(self, event: AiEvent) -> None: ...
