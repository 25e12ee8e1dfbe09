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

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode

from ccmesh import naming, telemetry
from ccmesh.events import ConsumerSettings, DurableConsumer, PermanentError
from ccmesh.kv import update_with
from contactcenter.events.v1 import events_pb2
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


async def _not_an_event(event: events_pb2.Event) -> None:  # pragma: no cover - never called
    raise AssertionError("an ActionConsumer hands ActionRecords to its action handler")


class ActionConsumer(DurableConsumer):
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
        )
        super().__init__(js, region, settings, _not_an_event)
        self._stream = naming.actions_stream(region).name
        self._action_handler = handler

    async def start(self) -> None:
        s = self.settings
        several = len(self.filter_subjects) > 1
        config = ConsumerConfig(
            durable_name=s.durable,
            filter_subject=None if several else self.filter_subjects[0],
            filter_subjects=list(self.filter_subjects) if several else None,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=s.max_deliver,
            ack_wait=s.ack_wait_seconds,
        )
        self._subscription = await self._js.pull_subscribe(
            self.filter_subjects[0], durable=s.durable, stream=self._stream, config=config
        )
        self._task = asyncio.create_task(self._run(), name=f"consumer-{s.durable}")

    async def _process(self, message: Msg) -> None:
        delivered = message.metadata.num_delivered
        token = otel_context.attach(telemetry.extract(message.headers))
        try:
            with self._tracer.start_as_current_span(
                f"{self._stream} process",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": message.subject,
                    "messaging.consumer.group.name": self.settings.durable,
                    "messaging.message.delivery_count": delivered,
                },
            ) as span:
                try:
                    record = integration_pb2.ActionRecord.FromString(message.data)
                except DecodeError as error:
                    await self._dead_letter(message, f"undecodable action record: {error}")
                    return
                span.set_attribute("messaging.message.id", record.action_id)
                span.set_attribute("contactcenter.action.type", record.WhichOneof("action") or "")
                try:
                    await self._action_handler(record)
                except PermanentError as error:
                    span.set_status(Status(StatusCode.ERROR, str(error)))
                    await self._dead_letter(message, f"permanent failure: {error}")
                    return
                except Exception as error:
                    span.set_status(Status(StatusCode.ERROR, repr(error)))
                    if delivered >= self.settings.max_deliver:
                        await self._dead_letter(message, f"handler failed {delivered} times: {error!r}")
                    else:
                        log.warning(
                            "action %s on %s failed (attempt %d); retrying",
                            record.action_id,
                            self.settings.durable,
                            delivered,
                            exc_info=True,
                        )
                        await message.nak(delay=self._backoff(delivered))
                    return
                await message.ack()
        finally:
            otel_context.detach(token)


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
