"""Idempotency records of inbound actions: `action.<tenant>.<key hash>` -> what the first call asked and got.

A record is written before its effects are published and carries them (`ccmesh.outbox`) until
a sweeper has made sure they are on their streams (found through its marker, `ccmesh.outbox.mark`).

The effect itself is a JetStream publish whose `Nats-Msg-Id` is the action id (derived from the
tenant and the key), so even two identical calls racing each other are stored once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ccmesh import naming
from ccmesh.outbox import Entry, carry, entry_of_event, mark
from integration.adapters.event_codec import to_protobuf
from integration.domain.action_effects import ActionEffects


@dataclass(frozen=True)
class ActionOutcome:
    action_id: str
    fingerprint: str
    #: Action-specific results, e.g. the new task's contact id.
    result: dict[str, str]


def action_id_of(tenant_id: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{tenant_id}\0{idempotency_key}".encode()).hexdigest()[:32]


class ActionLog:
    def __init__(self, kv: KeyValue, region: str = "", clock: Callable[[], float] = time.time) -> None:
        """`region`: where the effects of an action are published; without one the log keeps
        no outbox (no sweeper would send it)."""
        self._kv = kv
        self._region = region
        self._clock = clock

    def _staged(self, tenant_id: str, action_id: str, effects: ActionEffects | None) -> list[Entry]:
        if effects is None or not self._region:
            return []
        at, region = self._clock(), self._region
        subject = naming.action_subject(region, tenant_id, effects.action, effects.target_id)
        return [
            Entry(subject, action_id, effects.record, at),
            *(entry_of_event(to_protobuf(event, region), region, at=at) for event in effects.events),
        ]

    @staticmethod
    def _key(tenant_id: str, action_id: str) -> str:
        return f"action.{tenant_id}.{action_id}"

    async def find(self, tenant_id: str, action_id: str) -> ActionOutcome | None:
        try:
            entry = await self._kv.get(self._key(tenant_id, action_id))
        except KeyNotFoundError:
            return None
        raw = orjson.loads(entry.value or b"{}")
        return ActionOutcome(raw["id"], raw["fingerprint"], dict(raw["result"]))

    async def record(
        self, tenant_id: str, outcome: ActionOutcome, effects: ActionEffects | None = None
    ) -> ActionOutcome:
        """Store the outcome unless one is already there; returns the stored one. The `effects`
        to publish go in the same write (its outbox), for a sweeper should the caller die."""
        value = orjson.dumps(
            {"id": outcome.action_id, "fingerprint": outcome.fingerprint, "result": outcome.result}
        )
        staged = self._staged(tenant_id, outcome.action_id, effects)
        if staged:
            # First: a crash after the record's write leaves the sweepers a marker to find it by.
            await mark(self._kv, self._key(tenant_id, outcome.action_id), staged[0].at)
        value = carry(None, value, staged) or value
        try:
            await self._kv.create(self._key(tenant_id, outcome.action_id), value)
        except KeyWrongLastSequenceError:
            stored = await self.find(tenant_id, outcome.action_id)
            if stored is not None:
                return stored
        return outcome


class ActionPublisher:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def publish(self, tenant_id: str, action: str, target_id: str, action_id: str, data: bytes) -> None:
        subject = naming.action_subject(self._region, tenant_id, action, target_id)
        await self._js.publish(subject, data, headers={"Nats-Msg-Id": action_id})
