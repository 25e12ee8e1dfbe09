"""What the ACD's use cases need from the outside, as Protocols.

`AcdRecords` is the shared state (the region's KV bucket in production, `routing.adapters.
acd_store.AcdStore`); every write is a compare-and-set transition, `change` is a pure function
of the value read and may run more than once. `AcdView` is an instance's eventually consistent
copy of it (`KeyMirror`), which routing decisions read. `EventSink` takes the domain events the
use cases emit. Unit tests hand the use cases in-memory fakes of all three.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ccsurge.assessment import Assessment
from routing.domain.agent_index import AgentIndex
from routing.domain.contacts import ContactRecord
from routing.domain.events import Announce, RoutingEvent
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger
from routing.domain.working_set import Deadline

#: Receives every domain event the ACD emits, in the order the changes were made.
EventSink = Callable[[RoutingEvent], Awaitable[None]]


async def no_events(event: RoutingEvent) -> None:
    return None


class AcdRecords(Protocol):
    """The shared ACD state: agent ledgers, contact records, queues, routing decisions.

    Unknown agents and contacts raise `routing.adapters.acd_store.UnknownKey`; transitions raise
    the domain's errors; a write lost to concurrent writers raises `ccmesh.kv.KVError`.
    """

    async def update_ledger(
        self,
        tenant: str,
        agent_id: str,
        change: Callable[[AgentLedger], AgentLedger],
        *,
        announce: Announce[AgentLedger] | None = None,
    ) -> AgentLedger: ...

    async def upsert_ledger(
        self, tenant: str, agent_id: str, change: Callable[[AgentLedger | None], AgentLedger]
    ) -> AgentLedger: ...

    async def update_contact(
        self,
        tenant: str,
        contact_id: str,
        change: Callable[[ContactRecord | None], ContactRecord],
        *,
        announce: Announce[ContactRecord] | None = None,
    ) -> ContactRecord: ...

    async def get_ledger(self, tenant: str, agent_id: str) -> AgentLedger: ...

    async def put_queue(self, queue: QueueSpec) -> None: ...

    async def get_queue(self, tenant: str, name: str) -> QueueSpec | None: ...

    async def get_decision(self, tenant: str, contact_id: str) -> dict[str, Any] | None: ...


class AcdView(Protocol):
    """An instance's working set of the shared state (`routing.domain.working_set`), keyed by
    (tenant, id): live contacts and agents only, indexed by what can change; may lag behind
    writes."""

    agents: dict[tuple[str, str], AgentLedger]
    #: Live contacts only (waiting, offered, assigned, transferring).
    contacts: dict[tuple[str, str], ContactRecord]
    queues: dict[tuple[str, str], QueueSpec]
    #: Per tenant, the routable agents indexed by channel and skill.
    indexes: dict[str, AgentIndex]
    #: Per (tenant, queue), the contacts waiting there by id.
    waiting: dict[tuple[str, str], dict[str, ContactRecord]]
    #: Per (tenant, queue), the waiting contacts of other queues widened to it, by id.
    widened: dict[tuple[str, str], dict[str, ContactRecord]]
    #: Agents whose ledger or held contacts changed since the last sweep.
    dirty_agents: set[tuple[str, str]]
    #: Set on every change seen, so the routing loop wakes up.
    changed: asyncio.Event

    def put_contact(self, tenant: str, contact_id: str, record: ContactRecord | None) -> None: ...

    def index_agent(self, tenant: str, agent_id: str, ledger: AgentLedger | None) -> None: ...

    def record(self, tenant: str, contact_id: str) -> ContactRecord | None: ...

    def queue_records(self, tenant: str, queue: str) -> list[ContactRecord]: ...

    def prune(self, now: float) -> None: ...

    def due(self, now: float) -> list[Deadline]: ...

    def schedule(self, deadline: Deadline) -> None: ...

    def heartbeats_before(self, before: float) -> list[tuple[str, str]]: ...

    def watch_heartbeat(self, tenant: str, agent_id: str, last_heartbeat: float) -> None: ...

    def take_dirty_agents(self) -> list[tuple[str, str]]: ...

    async def refresh_contact(self, tenant: str, contact_id: str) -> None:
        """Take the contact's record as stored now, if the view is behind it (a record the view
        should have shown by now: its watch may have missed it). Never fails: a store that cannot
        be read leaves the view as it is."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class RegionDirectory(Protocol):
    """What the region's configuration (its ContactCenter) says about tenants and regions."""

    def brand_sharing(self, tenant: str) -> str:
        """The tenant's `brandSharing` ("shared" or "isolated"; "" for a tenant not configured)."""
        ...

    def known_regions(self) -> frozenset[str]:
        """Every region of the deployment, this one included."""
        ...


class _NoDirectory:
    """No configuration document: no tenant shares agents, only this region is known."""

    def __init__(self, region: str = "") -> None:
        self._region = region

    def brand_sharing(self, tenant: str) -> str:
        return ""

    def known_regions(self) -> frozenset[str]:
        return frozenset({self._region}) if self._region else frozenset()


NO_DIRECTORY: RegionDirectory = _NoDirectory()


class AssessmentSink(Protocol):
    """Whoever acts on what the surge detectors say (the fallback policy engine).

    `surge_watch` calls `take_assessments` once per interval with EVERY assessment of that
    interval: one per (key, metric) for each region/tenant/queue/channel it watches, alerting or
    not, all sharing the interval's end time `at`, so the sink sees normal return as well as
    surges (it needs both for hysteresis). Keys for a queue with no traffic keep appearing while
    the queue exists. The call is awaited before the next interval; an exception is logged by the
    watch and does not stop it. The sink must not mutate the assessments (they are frozen).
    """

    async def take_assessments(self, assessments: Sequence[Assessment]) -> None: ...


class _NoAssessmentSink:
    """No fallback engine wired: assessments are only published as events on the rising edge."""

    async def take_assessments(self, assessments: Sequence[Assessment]) -> None:
        return None


NO_ASSESSMENT_SINK: AssessmentSink = _NoAssessmentSink()
