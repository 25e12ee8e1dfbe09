"""Inbound actions from business systems, each applied at most once per idempotency key.

A repeat with the same key and the same request returns the first result (`replayed`); the
same key with a different request is refused, because the caller has a bug that silently
dropping one of them would hide.
"""

from __future__ import annotations

import hashlib

from google.protobuf.message import Message

from contactcenter.integration.v1 import integration_pb2
from integration.adapters.action_log import ActionOutcome, action_id_of
from integration.domain.events import ContactClosedByAction, TaskCreated
from integration.service_layer.ports import ActionOutcomes, ActionRecords, IntegrationEvents


class ActionError(ValueError):
    """The action cannot be applied; the message says why."""


class IdempotencyConflict(ActionError):
    """The key was used before for a different request."""


def _fingerprint(request: Message) -> str:
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


class Actions:
    def __init__(self, log: ActionOutcomes, actions: ActionRecords, events: IntegrationEvents) -> None:
        self._log = log
        self._actions = actions
        self._events = events

    async def apply(
        self, request: Message, header: integration_pb2.ActionHeader, requested_by: str
    ) -> tuple[ActionOutcome, bool]:
        """Apply `request` once; returns its outcome and whether this call was a repeat."""
        if not header.idempotency_key or len(header.idempotency_key) > 200:
            raise ActionError("header.idempotency_key: required, at most 200 characters")
        tenant = header.tenant_id
        action_id = action_id_of(tenant, header.idempotency_key)
        fingerprint = _fingerprint(request)
        stored = await self._log.find(tenant, action_id)
        if stored is None:
            result = await self._perform(request, tenant, action_id, requested_by)
            stored = await self._log.record(tenant, ActionOutcome(action_id, fingerprint, result))
            if stored.fingerprint == fingerprint and stored.result == result:
                return stored, False
        if stored.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {header.idempotency_key!r} was already used for a different request"
            )
        return stored, True

    async def _perform(
        self, request: Message, tenant: str, action_id: str, requested_by: str
    ) -> dict[str, str]:
        record = integration_pb2.ActionRecord(
            action_id=action_id, tenant_id=tenant, requested_by=requested_by
        )
        if isinstance(request, integration_pb2.UpdateAttributesRequest):
            if request.target == integration_pb2.ATTRIBUTE_TARGET_UNSPECIFIED or not request.target_id:
                raise ActionError("target and target_id are required")
            record.update_attributes.CopyFrom(request)
            await self._publish(record, "update_attributes", request.target_id)
            return {}
        if isinstance(request, integration_pb2.SendFlowEventRequest):
            if not request.contact_id or not request.event_name:
                raise ActionError("contact_id and event_name are required")
            record.send_flow_event.CopyFrom(request)
            await self._publish(record, "send_flow_event", request.contact_id)
            return {}
        if isinstance(request, integration_pb2.CreateTaskRequest):
            if not request.title:
                raise ActionError("title is required")
            contact_id = f"task{action_id[:28]}"
            record.create_task.CopyFrom(request)
            await self._publish(record, "create_task", contact_id)
            await self._events.publish(TaskCreated(tenant, contact_id, action_id))
            return {"contact_id": contact_id}
        if isinstance(request, integration_pb2.CloseContactRequest):
            if not request.contact_id:
                raise ActionError("contact_id is required")
            record.close_contact.CopyFrom(request)
            await self._publish(record, "close_contact", request.contact_id)
            await self._events.publish(
                ContactClosedByAction(tenant, request.contact_id, action_id, request.outcome, requested_by)
            )
            return {}
        raise ActionError(f"unknown action {type(request).__name__}")

    async def _publish(self, record: integration_pb2.ActionRecord, action: str, target_id: str) -> None:
        if "." in target_id or "*" in target_id or ">" in target_id:
            raise ActionError("target id must be a single token (no '.', '*' or '>')")
        await self._actions.publish(
            record.tenant_id, action, target_id, record.action_id, record.SerializeToString()
        )
