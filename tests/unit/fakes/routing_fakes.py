"""In-memory fakes of the ACD's ports (`routing.service_layer.ports`).

`FakeAcdRecords` keeps the store's contract: every write applies a pure transition to the value
it read (an unknown agent is `UnknownKey`, a refused transition raises and stores nothing). Each
write is copied into a `FakeAcdView` at once, as the real mirror's watch does a moment later;
`lagging=True` stops that, so a test can show what a stale view decides. `RecordedEvents` is an
event sink that keeps what it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from routing.adapters.acd_store import UnknownKey
from routing.domain.contacts import ContactRecord
from routing.domain.events import Announce, RoutingEvent
from routing.domain.matching import Decision
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger
from routing.domain.working_set import WorkingSet
from routing.service_layer.acd_context import AcdContext, AcdSettings

TENANT = "acme"


class FakeAcdView(WorkingSet):
    """The working set as the real mirror keeps it, fed by the fake store's writes at once."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()
        #: The store that feeds it, for `refresh_contact` (set by `FakeAcdRecords`).
        self.source: FakeAcdRecords | None = None
        #: Contacts refreshed from the store, in order.
        self.refreshed: list[tuple[str, str]] = []

    def put_agent(self, tenant: str, agent_id: str, ledger: AgentLedger | None) -> None:
        super().put_agent(tenant, agent_id, ledger)
        self.changed.set()

    async def refresh_contact(self, tenant: str, contact_id: str) -> None:
        self.refreshed.append((tenant, contact_id))
        stored = self.source.contacts.get((tenant, contact_id)) if self.source is not None else None
        if stored is not None:
            self.put_contact(tenant, contact_id, stored)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeAcdRecords:
    def __init__(self, view: FakeAcdView) -> None:
        self.view = view
        view.source = self
        self.lagging = False
        self.ledgers: dict[tuple[str, str], AgentLedger] = {}
        self.contacts: dict[tuple[str, str], ContactRecord] = {}
        self.queues: dict[tuple[str, str], QueueSpec] = {}
        self.writes = 0
        #: Events staged with the writes that made their changes, in order.
        self.staged: list[RoutingEvent] = []

    def _ledger_written(self, tenant: str, agent_id: str, ledger: AgentLedger) -> AgentLedger:
        self.ledgers[(tenant, agent_id)] = ledger
        self.writes += 1
        if not self.lagging:
            self.view.put_agent(tenant, agent_id, ledger)
        return ledger

    async def update_ledger(
        self,
        tenant: str,
        agent_id: str,
        change: Callable[[AgentLedger], AgentLedger],
        *,
        announce: Announce[AgentLedger] | None = None,
    ) -> AgentLedger:
        old = self.ledgers.get((tenant, agent_id))
        if old is None:
            raise UnknownKey(f"unknown agent {agent_id!r}")
        new = change(old)
        self._stage(announce, old, new)
        return self._ledger_written(tenant, agent_id, new)

    def _stage(self, announce: Announce[Any] | None, old: Any, new: Any) -> None:
        # What the real store writes into the record's outbox with the change itself.
        if announce is not None:
            self.staged.extend(announce(old, new))

    async def upsert_ledger(
        self, tenant: str, agent_id: str, change: Callable[[AgentLedger | None], AgentLedger]
    ) -> AgentLedger:
        return self._ledger_written(tenant, agent_id, change(self.ledgers.get((tenant, agent_id))))

    async def update_contact(
        self,
        tenant: str,
        contact_id: str,
        change: Callable[[ContactRecord | None], ContactRecord],
        *,
        announce: Announce[ContactRecord] | None = None,
    ) -> ContactRecord:
        old = self.contacts.get((tenant, contact_id))
        new = change(old)
        self._stage(announce, old, new)
        self.contacts[(tenant, contact_id)] = new
        self.writes += 1
        if not self.lagging:
            self.view.put_contact(tenant, contact_id, new)
            self.view.changed.set()
        return new

    async def get_ledger(self, tenant: str, agent_id: str) -> AgentLedger:
        ledger = self.ledgers.get((tenant, agent_id))
        if ledger is None:
            raise UnknownKey(f"unknown agent {agent_id!r}")
        return ledger

    async def put_queue(self, queue: QueueSpec) -> None:
        self.queues[(queue.tenant, queue.name)] = queue
        if not self.lagging:
            self.view.queues[(queue.tenant, queue.name)] = queue

    async def get_queue(self, tenant: str, name: str) -> QueueSpec | None:
        return self.queues.get((tenant, name))

    async def get_decision(self, tenant: str, contact_id: str) -> dict[str, Any] | None:
        record = self.contacts.get((tenant, contact_id))
        return dict(orjson.loads(record.explanation)) if record and record.explanation else None

    def contact(self, contact_id: str, tenant: str = TENANT) -> ContactRecord:
        return self.contacts[(tenant, contact_id)]

    def ledger(self, agent_id: str, tenant: str = TENANT) -> AgentLedger:
        return self.ledgers[(tenant, agent_id)]


class RecordedEvents:
    def __init__(self) -> None:
        self.events: list[RoutingEvent] = []

    async def __call__(self, event: RoutingEvent) -> None:
        self.events.append(event)

    def outcomes(self) -> list[str]:
        return [e.outcome for e in self.events]

    def of(self, kind: type[RoutingEvent]) -> list[RoutingEvent]:
        return [e for e in self.events if isinstance(e, kind)]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def acd_context(
    settings: AcdSettings | None = None,
) -> tuple[AcdContext, FakeAcdRecords, RecordedEvents, FakeClock]:
    """A context over fresh fakes; the store, the recorded events and the clock to steer it."""
    view = FakeAcdView()
    store = FakeAcdRecords(view)
    events = RecordedEvents()
    clock = FakeClock()
    return AcdContext(store, view, settings or AcdSettings(region="eu"), events, clock), store, events, clock


def decided(contact_id: str, agent_id: str = "a1", queue: str = "support") -> Decision:
    """A routing decision as the routing pass makes it (longest idle, innermost ring)."""
    return Decision(contact_id, queue, agent_id, "longest_idle", 0, ())
