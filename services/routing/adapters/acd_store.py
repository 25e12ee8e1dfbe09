"""The ACD's shared state in one JetStream KV bucket per region (`acd-<region>`).

Keys (tenant and ids are key tokens; `_key` refuses anything else):

    agent.<tenant>.<agent>      AgentLedger: state, held contacts (offered/accepted), heartbeat
    contact.<tenant>.<contact>  ContactRecord: waiting/offered/assigned/closed, reservation id
    queue.<tenant>.<queue>      QueueSpec
    decision.<tenant>.<contact> the last routing decision's explanation (JSON)

Every change of a ledger or a contact record is `ccmesh.kv.update_with`: read value and
revision, apply a pure transition, write only if the revision is unchanged, else retry with
a fresh read. `KeyMirror` keeps a local, eventually consistent copy of the bucket by watching
it; routers decide from the mirror and the revision check makes a stale decision fail safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh.kv import update_with
from routing.adapters import acd_codec
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger
from routing.domain.working_set import WorkingSet

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")
T = TypeVar("T")


class UnknownKey(LookupError):
    """The agent, contact or queue does not exist."""


def _key(kind: str, tenant: str, name: str, field_name: str) -> str:
    for value, label in ((tenant, "tenant_id"), (name, field_name)):
        if not _TOKEN.match(value):
            raise AcdInputError(label, f"must be 1-200 letters, digits, '_', '=' or '-', got {value!r}")
    return f"{kind}.{tenant}.{name}"


def agent_key(tenant: str, agent_id: str) -> str:
    return _key("agent", tenant, agent_id, "agent_id")


def contact_key(tenant: str, contact_id: str) -> str:
    return _key("contact", tenant, contact_id, "contact_id")


def queue_key(tenant: str, name: str) -> str:
    return _key("queue", tenant, name, "queue")


def decision_key(tenant: str, contact_id: str) -> str:
    return _key("decision", tenant, contact_id, "contact_id")


class AcdStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def _update(
        self,
        key: str,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
        change: Callable[[T | None], T],
    ) -> T:
        result: list[T] = []

        def mutate(old: bytes | None) -> bytes | None:
            new = change(decode(old) if old is not None else None)
            result.append(new)
            return encode(new)

        await update_with(self.kv, key, mutate)
        return result[-1]

    async def update_ledger(
        self, tenant: str, agent_id: str, change: Callable[[AgentLedger], AgentLedger]
    ) -> AgentLedger:
        def existing(ledger: AgentLedger | None) -> AgentLedger:
            if ledger is None:
                raise UnknownKey(f"unknown agent {agent_id!r}")
            return change(ledger)

        return await self._update(
            agent_key(tenant, agent_id), acd_codec.ledger_from_bytes, acd_codec.ledger_to_bytes, existing
        )

    async def upsert_ledger(
        self, tenant: str, agent_id: str, change: Callable[[AgentLedger | None], AgentLedger]
    ) -> AgentLedger:
        return await self._update(
            agent_key(tenant, agent_id), acd_codec.ledger_from_bytes, acd_codec.ledger_to_bytes, change
        )

    async def update_contact(
        self, tenant: str, contact_id: str, change: Callable[[ContactRecord | None], ContactRecord]
    ) -> ContactRecord:
        return await self._update(
            contact_key(tenant, contact_id), acd_codec.contact_from_bytes, acd_codec.contact_to_bytes, change
        )

    async def get_ledger(self, tenant: str, agent_id: str) -> AgentLedger:
        try:
            entry = await self.kv.get(agent_key(tenant, agent_id))
        except KeyNotFoundError:
            raise UnknownKey(f"unknown agent {agent_id!r}") from None
        if not entry.value:
            raise UnknownKey(f"unknown agent {agent_id!r}")
        return acd_codec.ledger_from_bytes(entry.value)

    async def put_queue(self, queue: QueueSpec) -> None:
        await self.kv.put(queue_key(queue.tenant, queue.name), acd_codec.queue_to_bytes(queue))

    async def get_queue(self, tenant: str, name: str) -> QueueSpec | None:
        """The stored queue, or None when it is absent or `name` cannot be a key."""
        with contextlib.suppress(Exception):
            entry = await self.kv.get(queue_key(tenant, name))
            if entry.value:
                return acd_codec.queue_from_bytes(entry.value)
        return None

    async def put_decision(self, tenant: str, contact_id: str, decision: dict[str, Any]) -> None:
        await self.kv.put(decision_key(tenant, contact_id), orjson.dumps(decision))

    async def get_decision(self, tenant: str, contact_id: str) -> dict[str, Any] | None:
        with contextlib.suppress(Exception):
            entry = await self.kv.get(decision_key(tenant, contact_id))
            if entry.value:
                return dict(orjson.loads(entry.value))
        return None


class KeyMirror(WorkingSet):
    """This instance's working set (`routing.domain.working_set`), kept current by a KV watch.

    Eventually consistent: a decision read from it may be stale, and the revision check of
    every write makes a stale decision fail safely.
    """

    def __init__(self, kv: KeyValue, **windows: Any) -> None:
        super().__init__(**windows)
        self._kv = kv
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        watcher = await self._kv.watch("*.*.*")
        self._task = asyncio.create_task(self._run(watcher))
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # A watch that already failed (its connection closed) must not fail the shutdown.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, watcher: Any) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    for index in self.indexes.values():
                        index.compact()  # the initial load came in key order, not idle order
                    self._ready.set()
                    continue
                try:
                    self.apply(entry.key, entry.value, entry.operation)
                except (ValueError, KeyError, TypeError):
                    # A record this version cannot read must not stop the mirror for all others.
                    log.exception("ignoring unreadable ACD record %s", entry.key)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        kind, tenant, name = key.split(".", 2)
        deleted = operation in ("DEL", "PURGE") or not value
        if kind == "contact":
            self.put_contact(tenant, name, None if deleted else acd_codec.contact_from_bytes(value or b""))
        elif kind == "agent":
            self.put_agent(tenant, name, None if deleted else acd_codec.ledger_from_bytes(value or b""))
        elif kind == "queue":
            if deleted:
                self.queues.pop((tenant, name), None)
            else:
                self.queues[(tenant, name)] = acd_codec.queue_from_bytes(value or b"")
        else:
            return
        self.changed.set()
