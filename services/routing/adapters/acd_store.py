"""The ACD's shared state in one JetStream KV bucket per region (`acd-<region>`).

Keys (tenant and ids are key tokens; `_key` refuses anything else):

    agent.<tenant>.<agent>      AgentLedger: state, held contacts (offered/accepted), heartbeat
    contact.<tenant>.<contact>  ContactRecord: waiting/offered/assigned/closed, reservation id
    queue.<tenant>.<queue>      QueueSpec
    decision.<tenant>.<contact>.offer  the last routing decision's explanation (JSON), as
                                releases before the contact record carried it wrote it: read
                                for their contacts, never written

Every change of a ledger or a contact record is `ccmesh.kv.update_with`: read value and
revision, apply a pure transition, write only if the revision is unchanged, else retry with
a fresh read. `KeyMirror` keeps a local, eventually consistent copy of the bucket by watching
it; routers decide from the mirror and the revision check makes a stale decision fail safely.

A write may `announce` the events of its change: they are staged in the record's outbox
(`ccmesh.outbox`) by the same write, so a crash before the use case publishes them delays them
by a sweep instead of losing them; every later write of the record carries them until a sweeper
has sent and removed them. An offer unsent when its reservation ends is sent all the same: a
workspace may have been shown it (core NATS subscribers get a message the stream failed to
store), so the stream tells it too, if after its end (offers are told apart by reservation, and
a workspace does not show again an offer it saw end).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh.kv import ReadYourWritesKV, read_last, update_with
from ccmesh.kv_watch import KeyWatch
from ccmesh.outbox import Entry, Outbox, SentIds, carry, entry_of_event
from routing.adapters import acd_codec
from routing.adapters.acd_event_codec import to_protobuf
from routing.adapters.acd_write_batches import Change, Pending, WriteBatches
from routing.adapters.acks_aside import AcksAside
from routing.adapters.agent_state_events import AgentStateAnnouncer
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord
from routing.domain.events import Announce, ContactOffered, RoutingEvent
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
    # Where releases before the record's `explanation` kept decisions: still read, never written.
    return _key("decision", tenant, contact_id, "contact_id") + ".offer"


def _former_decision_key(tenant: str, contact_id: str) -> str:
    # Where releases before the key above kept decisions: still read, never written.
    return _key("decision", tenant, contact_id, "contact_id")


def _offer_tag(event: RoutingEvent) -> str:
    # Tagged with its reservation, so an outbox entry says which offer it announces.
    return event.record.reservation_id if isinstance(event, ContactOffered) else ""


class AcdStore:
    def __init__(
        self,
        kv: KeyValue,
        region: str = "",
        clock: Callable[[], float] = time.time,
        *,
        agent_states: AgentStateAnnouncer | None = None,
    ) -> None:
        """`region`: where announced events are published (see `AcdOutboxMirror`); without
        one the store stages nothing, as no sweeper would send it."""
        self.kv = kv
        self._region = region
        self._clock = clock
        #: Announces each change of an agent's state with the ledger's write.
        self._agent_states = agent_states or AgentStateAnnouncer(region)
        #: Events this process published: a later write of their record drops them unswept.
        self.sent = SentIds()
        self._ledger_writes: WriteBatches[AgentLedger] = WriteBatches()
        #: State changes being published.
        self._publishing = AcksAside()

    def _staged(self, events: Sequence[RoutingEvent]) -> list[Entry]:
        if not self._region:
            return []
        at, region = self._clock(), self._region
        return [
            entry_of_event(to_protobuf(event, region), region, at=at, tag=_offer_tag(event))
            for event in events
        ]

    async def _update(
        self,
        key: str,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
        change: Callable[[T | None], T],
        announce: Announce[T] | None = None,
        keep: Callable[[T, Entry], bool] | None = None,
        *,
        ledger: bool = False,
        send_states_with_caller: bool = False,
    ) -> T:
        """`ledger`: the record is an agent's ledger, whose state changes are announced too.

        `send_states_with_caller`: the write runs in a task of its own whose caller resumes after
        it (`WriteBatches`): the state change is then published without waiting for its
        acknowledgement here, so what the caller announces next (an accept's, a completion's)
        leaves in the same socket write, after it, and both acknowledgements are awaited at once.
        """
        result: list[T] = []
        #: What each attempt staged of the agent's state change; the last one is the stored one.
        states: list[list[Entry]] = []

        def mutate(old: bytes | None) -> bytes | None:
            before = decode(old) if old is not None else None
            new = change(before)
            result.append(new)
            staged = self._staged(announce(before, new)) if announce is not None else []
            if ledger:
                states.append(self._agent_states.stage(key, before, new, self._clock()))
                staged += states[-1]
            return carry(old, encode(new), staged, lambda entry: unsent(new, entry))

        def unsent(new: T, entry: Entry) -> bool:
            return entry.msg_id not in self.sent and (keep is None or keep(new, entry))

        # A key this handle knows nothing of is tried as absent first: most changes refuse an
        # absent record (and nothing is written), and the ones that create it, an enqueue above
        # all, are nearly always of a new contact, which then costs no read.
        await update_with(self.kv, key, mutate, absent_first=True)
        if states and states[-1]:
            publishing = self._agent_states.publish(states[-1], self.sent)
            if not send_states_with_caller:
                await publishing
            else:
                # Its first step (the send) runs before the caller resumes, its ack is awaited
                # meanwhile; should the publish fail, the entry stays for the outbox's sweeper.
                self._publishing.start(publishing)
        return result[-1]

    async def settle(self) -> None:
        """Wait for the state changes still being published: a stopping service sends them
        rather than leaving them to another instance's sweeper."""
        await self._publishing.settle()

    async def update_ledger(
        self,
        tenant: str,
        agent_id: str,
        change: Callable[[AgentLedger], AgentLedger],
        *,
        announce: Announce[AgentLedger] | None = None,
    ) -> AgentLedger:
        # Concurrent changes of one agent (a pass's offers, the agent's answers) share a write.
        key = agent_key(tenant, agent_id)

        async def write(batch: Sequence[Pending[AgentLedger]], apply: Change[AgentLedger]) -> None:
            def existing(ledger: AgentLedger | None) -> AgentLedger:
                if ledger is None:
                    raise UnknownKey(f"unknown agent {agent_id!r}")
                return apply(ledger)

            def announce_all(_old: AgentLedger | None, _new: AgentLedger) -> list[RoutingEvent]:
                return [
                    event
                    for pending in batch
                    if pending.announce is not None and isinstance(pending.outcome, tuple)
                    for event in pending.announce(*pending.outcome)
                ]

            await self._update(
                key,
                acd_codec.ledger_from_bytes,
                acd_codec.ledger_to_bytes,
                existing,
                announce_all,
                ledger=True,
                send_states_with_caller=True,
            )

        return await self._ledger_writes.change(key, change, write, announce)

    async def upsert_ledger(
        self, tenant: str, agent_id: str, change: Callable[[AgentLedger | None], AgentLedger]
    ) -> AgentLedger:
        return await self._update(
            agent_key(tenant, agent_id),
            acd_codec.ledger_from_bytes,
            acd_codec.ledger_to_bytes,
            change,
            ledger=True,
        )

    async def update_contact(
        self,
        tenant: str,
        contact_id: str,
        change: Callable[[ContactRecord | None], ContactRecord],
        *,
        announce: Announce[ContactRecord] | None = None,
    ) -> ContactRecord:
        return await self._update(
            contact_key(tenant, contact_id),
            acd_codec.stored_contact,
            acd_codec.contact_to_bytes,
            change,
            announce,
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

    async def get_decision(self, tenant: str, contact_id: str) -> dict[str, Any] | None:
        """The contact's last routing decision: in its record (the offer writes it there), or,
        for contacts offered by releases that wrote it under a key of its own, under that key."""
        with contextlib.suppress(KeyNotFoundError):
            entry = await self.kv.get(contact_key(tenant, contact_id))
            if entry.value:
                explanation = acd_codec.stored_contact(entry.value).explanation
                if explanation:
                    return dict(orjson.loads(explanation))
        for key in (decision_key(tenant, contact_id), _former_decision_key(tenant, contact_id)):
            with contextlib.suppress(Exception):
                entry = await self.kv.get(key)
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
        #: Key -> revision of a record read from the bucket ahead of the watch (`refresh_contact`):
        #: the watch's entries of the key up to that revision are older and not applied.
        self._read_ahead: dict[str, int] = {}

    async def start(self) -> None:
        watcher = await KeyWatch.start(self._kv, "*.*.*")
        self._task = asyncio.create_task(self._run(watcher))
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # A watch that already failed (its connection closed) must not fail the shutdown.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, watcher: KeyWatch) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    for index in self.indexes.values():
                        index.compact()  # the initial load came in key order, not idle order
                    self._ready.set()
                    continue
                if isinstance(self._kv, ReadYourWritesKV):
                    # The store's writes start from what the watch saw, not from a read.
                    deleted = entry.operation in ("DEL", "PURGE")
                    self._kv.observe(entry.key, None if deleted else entry.value, entry.revision or 0)
                ahead = self._read_ahead.get(entry.key)
                if ahead is not None:
                    if (entry.revision or 0) <= ahead:
                        continue
                    del self._read_ahead[entry.key]
                try:
                    self.apply(entry.key, entry.value, entry.operation)
                except (ValueError, KeyError, TypeError):
                    # A record this version cannot read must not stop the mirror for all others.
                    log.exception("ignoring unreadable ACD record %s", entry.key)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def refresh_contact(self, tenant: str, contact_id: str) -> None:
        """Take the contact's record from the bucket's leader when it is newer than any the
        watch brought. A write the watch should have shown long ago, after a stream's leader
        changed, must not leave a contact waiting here forever while the bucket says otherwise.
        An absent key is left alone: a leader elected a moment ago may not have applied the
        key's creation yet, and the view keeps what it has rather than drop a live contact."""
        key = contact_key(tenant, contact_id)
        try:
            # `revision`: the value's, or a deleted key's marker's (0: nothing stored).
            value, _, revision = await read_last(self._kv, key)
        except Exception as error:  # any failure: the next pass tries the offer again
            log.warning("cannot read ACD record %s to refresh the view: %s", key, error)
            return
        if not revision:
            return
        if isinstance(self._kv, ReadYourWritesKV) and revision < self._kv.known_revision(key):
            return  # the watch brought a newer one meanwhile (or is about to)
        self._read_ahead[key] = revision
        try:
            self.apply(key, value, None if value is not None else "DEL")
        except (ValueError, KeyError, TypeError):
            log.exception("ignoring unreadable ACD record %s", key)

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


class AcdOutboxMirror(KeyMirror):
    """The mirror that also tells the bucket's outbox which records carry unsent events, so its
    sweeper needs no watch of its own."""

    def __init__(self, kv: KeyValue, outbox: Outbox, **windows: Any) -> None:
        super().__init__(kv, **windows)
        self.outbox = outbox

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        self.outbox.note(key, None if operation in ("DEL", "PURGE") else value)
        super().apply(key, value, operation)
