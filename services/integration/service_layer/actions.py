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
from integration.domain.action_effects import ActionEffects
from integration.domain.events import ContactClosedByAction, IntegrationEvent, TaskCreated
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
            result, effects = self._effects(request, tenant, action_id, requested_by)
            # The outcome and what it publishes are one write; published right after, and should
            # this process die first, a sweeper publishes them (a retry would only replay).
            stored = await self._log.record(tenant, ActionOutcome(action_id, fingerprint, result), effects)
            if stored.fingerprint == fingerprint and stored.result == result:
                await self._carry_out(tenant, action_id, effects)
                return stored, False
        if stored.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {header.idempotency_key!r} was already used for a different request"
            )
        return stored, True

    def _effects(
        self, request: Message, tenant: str, action_id: str, requested_by: str
    ) -> tuple[dict[str, str], ActionEffects]:
        """The action's result and what it publishes; a bad request is refused by name."""
        record = integration_pb2.ActionRecord(
            action_id=action_id, tenant_id=tenant, requested_by=requested_by
        )
        if isinstance(request, integration_pb2.UpdateAttributesRequest):
            if request.target == integration_pb2.ATTRIBUTE_TARGET_UNSPECIFIED or not request.target_id:
                raise ActionError("target and target_id are required")
            record.update_attributes.CopyFrom(request)
            return {}, _effects_of(record, "update_attributes", request.target_id)
        if isinstance(request, integration_pb2.SendFlowEventRequest):
            if not request.contact_id or not request.event_name:
                raise ActionError("contact_id and event_name are required")
            record.send_flow_event.CopyFrom(request)
            return {}, _effects_of(record, "send_flow_event", request.contact_id)
        if isinstance(request, integration_pb2.CreateTaskRequest):
            if not request.title:
                raise ActionError("title is required")
            contact_id = f"task{action_id[:28]}"
            record.create_task.CopyFrom(request)
            created = TaskCreated(tenant, contact_id, action_id)
            return {"contact_id": contact_id}, _effects_of(record, "create_task", contact_id, created)
        if isinstance(request, integration_pb2.CloseContactRequest):
            if not request.contact_id:
                raise ActionError("contact_id is required")
            record.close_contact.CopyFrom(request)
            closed = ContactClosedByAction(
                tenant, request.contact_id, action_id, request.outcome, requested_by
            )
            return {}, _effects_of(record, "close_contact", request.contact_id, closed)
        raise ActionError(f"unknown action {type(request).__name__}")

    async def _carry_out(self, tenant: str, action_id: str, effects: ActionEffects) -> None:
        await self._actions.publish(tenant, effects.action, effects.target_id, action_id, effects.record)
        for event in effects.events:
            await self._events.publish(event)


def _effects_of(
    record: integration_pb2.ActionRecord, action: str, target_id: str, *events: IntegrationEvent
) -> ActionEffects:
    if "." in target_id or "*" in target_id or ">" in target_id:
        raise ActionError("target id must be a single token (no '.', '*' or '>')")
    return ActionEffects(action, target_id, record.SerializeToString(), events)
