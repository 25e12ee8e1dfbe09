"""Inbound actions on a region's `actions-<region>` stream, consumed like contact events.

The integration service records every accepted action as an `ActionRecord` on
`ccact.<region>.<tenant>.<action>.<target>` (Nats-Msg-Id = action id). The services that own
the data apply them with an `ActionConsumer`: a `DurableConsumer` (same pull loop, explicit
ack, back-off, dead-lettering to `ccdlq.<region>.<durable>`, trace context) bound to the
actions stream, filtered to the action names the service applies, that hands each decoded
`ActionRecord` to its handler. A handler raises `PermanentError` for an action that can
never succeed (dead-lettered at once) and any other exception for a transient failure.

`ActionLedger` remembers what became of each action id in the service's own KV bucket
(`act.<tenant>.<action id>`, created once), so a redelivered action is recognised and not
applied twice. Only a `failed` entry may be replaced: a dead-lettered action that is
published again after its cause was fixed (e.g. the customer now exists) is applied then.

    consumer = ActionConsumer(js, "eu", "identity-actions", ["update_attributes"], handle)
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, MessageFormat, PermanentError
from ccmesh.kv import update_with
from contactcenter.integration.v1 import integration_pb2

log = logging.getLogger(__name__)

ActionHandler = Callable[[integration_pb2.ActionRecord], Awaitable[None]]

#: The action tokens of `ccact.<region>.<tenant>.<action>.<target>` (the ActionRecord oneof names).
ACTIONS = ("update_attributes", "send_flow_event", "create_task", "close_contact")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")

__all__ = [
    "ACTIONS",
    "APPLIED",
    "FAILED",
    "NOT_APPLICABLE",
    "ActionConsumer",
    "ActionHandler",
    "ActionLedger",
    "LedgerEntry",
    "PermanentError",
    "action_filter",
]


def action_filter(region: str, action: str) -> str:
    """`ccact.<region>.*.<action>.*`: every tenant's and target's `action` in the region."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    return naming.action_subject(region, "*", action, "*")


ACTION_RECORDS: MessageFormat[integration_pb2.ActionRecord] = MessageFormat(
    label="action record",
    decode=integration_pb2.ActionRecord.FromString,
    attributes=lambda record: {
        "messaging.message.id": record.action_id,
        "contactcenter.action.type": record.WhichOneof("action") or "",
    },
)


class ActionConsumer(DurableConsumer[integration_pb2.ActionRecord]):
    """A durable consumer on `actions-<region>` for `actions`, handing each ActionRecord to `handler`."""

    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        durable: str,
        actions: Sequence[str],
        handler: ActionHandler,
        *,
        max_deliver: int = 5,
        backoff_seconds: Sequence[float] = (0.2, 1.0, 5.0, 15.0),
    ) -> None:
        if not actions:
            raise ValueError("at least one action is required")
        self.filter_subjects = [action_filter(region, action) for action in actions]
        settings = ConsumerSettings(
            durable=durable,
            filter_subject=self.filter_subjects[0],
            max_deliver=max_deliver,
            backoff_seconds=tuple(backoff_seconds),
            more_filter_subjects=tuple(self.filter_subjects[1:]),
        )
        super().__init__(
            js,
            region,
            settings,
            handler,
            stream=naming.actions_stream(region).name,
            message_format=ACTION_RECORDS,
        )


APPLIED = "applied"
NOT_APPLICABLE = "not_applicable"
FAILED = "failed"
STATUSES = (APPLIED, NOT_APPLICABLE, FAILED)


@dataclass(frozen=True)
class LedgerEntry:
    #: APPLIED, NOT_APPLICABLE or FAILED.
    status: str
    action: str
    target_id: str
    reason: str = ""
    at: float = 0.0


class ActionLedger:
    """What became of each action id, in the applying service's KV bucket (`act.<tenant>.<id>`)."""

    def __init__(self, kv: KeyValue, prefix: str = "act") -> None:
        self._kv = kv
        self._prefix = prefix

    def _key(self, tenant_id: str, action_id: str) -> str:
        # Both become key tokens: a dot or wildcard would reach another tenant's records.
        for value, what in ((tenant_id, "tenant id"), (action_id, "action id")):
            if not _TOKEN.match(value):
                raise PermanentError(f"{what} {value!r} cannot be a key token")
        return f"{self._prefix}.{tenant_id}.{action_id}"

    async def find(self, tenant_id: str, action_id: str) -> LedgerEntry | None:
        try:
            entry = await self._kv.get(self._key(tenant_id, action_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        raw = orjson.loads(entry.value)
        return LedgerEntry(
            str(raw["status"]),
            str(raw["action"]),
            str(raw["target_id"]),
            str(raw.get("reason", "")),
            float(raw.get("at", 0.0)),
        )

    async def done(self, tenant_id: str, action_id: str) -> LedgerEntry | None:
        """The stored outcome when the action needs no (further) attempt: applied or not applicable."""
        found = await self.find(tenant_id, action_id)
        return found if found is not None and found.status != FAILED else None

    async def record(self, tenant_id: str, action_id: str, entry: LedgerEntry) -> LedgerEntry:
        """Store `entry` unless a final one is stored already; returns the one that is stored."""
        if entry.status not in STATUSES:
            raise ValueError(f"status {entry.status!r}; one of {', '.join(STATUSES)}")
        stamped = LedgerEntry(entry.status, entry.action, entry.target_id, entry.reason[:500], time.time())
        value = orjson.dumps(
            {
                "status": stamped.status,
                "action": stamped.action,
                "target_id": stamped.target_id,
                "reason": stamped.reason,
                "at": stamped.at,
            }
        )
        key = self._key(tenant_id, action_id)
        kept: list[bool] = []

        def mutate(current: bytes | None) -> bytes | None:
            final = current is not None and orjson.loads(current).get("status") != FAILED
            kept[:] = [final]
            return current if final else value

        await update_with(self._kv, key, mutate)
        if kept and kept[0]:
            stored = await self.find(tenant_id, action_id)
            if stored is not None:
                return stored
        return stamped
