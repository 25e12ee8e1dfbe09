"""What applying an inbound action publishes (pure): its record on the region's actions stream,
for the service that carries it out, and the domain events announcing the change.

The action log stores these with the action's outcome in one write, so a crash before they are
published delays them by a sweep (`ccmesh.outbox`) instead of losing them behind a recorded
outcome that a retry would only replay.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.domain.events import IntegrationEvent


@dataclass(frozen=True, slots=True)
class ActionEffects:
    #: The action's name, the fourth token of its subject (e.g. "create_task").
    action: str
    #: What it acts on (a contact or task id): the subject's last token.
    target_id: str
    #: The serialized `ActionRecord` the actions stream carries.
    record: bytes
    events: tuple[IntegrationEvent, ...] = ()
