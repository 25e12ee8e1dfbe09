"""What the integration service announces on the region's event stream (pure).

Business systems act on contacts through inbound actions; the actions that start or end a
contact are announced like any other channel's. The use cases hand these to a publisher port;
`integration.adapters.event_codec` is the one place that turns them into protobuf `Event`s.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntegrationEvent:
    tenant_id: str
    contact_id: str
    #: The inbound action that made the change; it fixes the event's id, so a retried action
    #: announces the change once.
    action_id: str


@dataclass(frozen=True, slots=True)
class TaskCreated(IntegrationEvent):
    """A business system created a task: a new contact on the task channel."""


@dataclass(frozen=True, slots=True)
class ContactClosedByAction(IntegrationEvent):
    """A business system closed the contact, with the outcome it gave."""

    outcome: str
    #: The caller of the action (a user or a connector).
    requested_by: str
