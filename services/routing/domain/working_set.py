"""What a routing instance holds in memory: live contacts and agents, indexed by what can change.

The region's contacts pass through routing by the million; an instance keeps only those still
in play (waiting, offered, assigned, being handed to another region) and every agent, so its
memory and the work of each loop turn do not grow with the contacts that went before:

- `contacts`: the live records; a record that leaves (closed, transferred) or is deleted goes;
- `live`: per (tenant, queue), its live contacts; `waiting`: those waiting, for the routing pass;
  `widened`: per (tenant, queue), the waiting contacts of other queues widened to it;
- `recent`: per (tenant, queue), the records that left it within `history_seconds` (at most
  `history_limit` per queue), all that the measured service level and the prediction read
  about the past;
- `deadlines`: a heap of the offers, holds and hand-overs that time out, each pushed once when
  its record changes and checked against the current record when due (a stale entry is dropped);
- `heartbeats`: a heap of the last heartbeat of each agent that is not offline, one entry per
  agent, pushed again with the newer time when popped early;
- `dirty_agents`: agents whose ledger, or a contact they hold, changed since the last sweep,
  the only ledgers that can hold a slot for a contact that moved on.

Pure bookkeeping: the KV watch (`routing.adapters.acd_store.KeyMirror`) and the unit tests'
fake view feed it with `put_contact` and `put_agent`.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict
from dataclasses import dataclass

from routing.domain.agent_index import ROUTABLE_STATES, AgentIndex
from routing.domain.agents import AgentState
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.matching import AgentView
from routing.domain.queueing import QueueSpec
from routing.domain.reservations import AgentLedger, ReservationState

#: Statuses of a contact routing still acts on.
LIVE = frozenset(
    {ContactStatus.WAITING, ContactStatus.OFFERED, ContactStatus.ASSIGNED, ContactStatus.TRANSFERRING}
)


class DeadlineKind(enum.StrEnum):
    #: A contact offered under a reservation, until the agent answers.
    OFFER = "offer"
    #: An offered hold in an agent's ledger (the ledger's side of an offer).
    HOLD = "hold"
    #: A contact being handed to another region, until that region answers.
    TRANSFER = "transfer"
    #: An offered contact whose agent's hold must be written soon after it: due at once, the
    #: sweeper checks it a short grace after the offer (an offer is two writes; a writer that
    #: died between them leaves a contact offered under a hold nobody has).
    OFFER_HOLD = "offer_hold"


@dataclass(frozen=True, slots=True, order=True)
class Deadline:
    at: float
    kind: DeadlineKind
    tenant: str
    #: The contact id (offer, transfer) or the agent id (hold).
    name: str
    reservation_id: str


class WorkingSet:
    def __init__(
        self,
        *,
        history_seconds: float = 3600.0,
        history_limit: int = 10_000,
    ) -> None:
        self.history_seconds = history_seconds
        self.history_limit = history_limit
        self.agents: dict[tuple[str, str], AgentLedger] = {}
        self.contacts: dict[tuple[str, str], ContactRecord] = {}
        self.queues: dict[tuple[str, str], QueueSpec] = {}
        self.indexes: dict[str, AgentIndex] = {}
        self.live: dict[tuple[str, str], dict[str, ContactRecord]] = {}
        self.waiting: dict[tuple[str, str], dict[str, ContactRecord]] = {}
        #: Per (tenant, queue), the waiting contacts of other queues widened to it, by id.
        self.widened: dict[tuple[str, str], dict[str, ContactRecord]] = {}
        #: (tenant, queue) -> contact id -> (when it left, its last record), oldest first.
        self.recent: dict[tuple[str, str], OrderedDict[str, tuple[float, ContactRecord]]] = {}
        #: (tenant, contact id) -> the queue it left, for the records in `recent`.
        self._left_from: dict[tuple[str, str], str] = {}
        self.deadlines: list[Deadline] = []
        self._scheduled: set[Deadline] = set()
        self.heartbeats: list[tuple[float, str, str]] = []
        self._beating: set[tuple[str, str]] = set()
        self.dirty_agents: set[tuple[str, str]] = set()

    # -- contacts ---------------------------------------------------------------------------

    def put_contact(self, tenant: str, contact_id: str, record: ContactRecord | None) -> None:
        """The contact's record as now stored (None: deleted)."""
        key = (tenant, contact_id)
        old = self.contacts.get(key)
        if old is not None:
            if old.agent_id:
                self.dirty_agents.add((tenant, old.agent_id))
            self._unlist(tenant, old)
        if record is not None and record.agent_id:
            self.dirty_agents.add((tenant, record.agent_id))
        if record is None or record.status not in LIVE:
            self.contacts.pop(key, None)
            if record is not None:
                if old is None:
                    self._forget(tenant, contact_id)  # seen again (the watch's replay): once
                self._remember(tenant, record)
            return
        if old is None:
            self._forget(tenant, contact_id)  # deleted and made again: live once more
        self.contacts[key] = record
        queue_key = (tenant, record.contact.queue)
        self.live.setdefault(queue_key, {})[contact_id] = record
        status = record.status
        if status is ContactStatus.WAITING:
            self.waiting.setdefault(queue_key, {})[contact_id] = record
            for target in record.widened_to:
                self.widened.setdefault((tenant, target), {})[contact_id] = record
        elif status is ContactStatus.OFFERED:
            self.schedule(
                Deadline(record.deadline, DeadlineKind.OFFER, tenant, contact_id, record.reservation_id)
            )
            if old is None or old.reservation_id != record.reservation_id:
                hold = Deadline(0.0, DeadlineKind.OFFER_HOLD, tenant, contact_id, record.reservation_id)
                self.schedule(hold)
        elif status is ContactStatus.TRANSFERRING:
            self.schedule(
                Deadline(record.deadline, DeadlineKind.TRANSFER, tenant, contact_id, record.reservation_id)
            )

    def record(self, tenant: str, contact_id: str) -> ContactRecord | None:
        """The contact's last known record: live, or left within the history window."""
        live = self.contacts.get((tenant, contact_id))
        if live is not None:
            return live
        queue = self._left_from.get((tenant, contact_id))
        return None if queue is None else self.recent[(tenant, queue)][contact_id][1]

    def queue_records(self, tenant: str, queue: str) -> list[ContactRecord]:
        """The queue's live contacts and those that left it within the history window."""
        live = self.live.get((tenant, queue))
        left = self.recent.get((tenant, queue))
        records = list(live.values()) if live else []
        if left:
            records.extend(record for _, record in left.values())
        return records

    def prune(self, now: float) -> None:
        """Forget the records that left before the history window."""
        since = now - self.history_seconds
        for queue_key, left in list(self.recent.items()):
            while left:
                contact_id, (left_at, _) = next(iter(left.items()))
                if left_at >= since:
                    break
                del left[contact_id]
                del self._left_from[(queue_key[0], contact_id)]
            if not left:
                del self.recent[queue_key]

    def _unlist(self, tenant: str, record: ContactRecord) -> None:
        queue_key = (tenant, record.contact.queue)
        contact_id = record.contact.contact_id
        keys = [(self.live, queue_key), (self.waiting, queue_key)]
        keys += [(self.widened, (tenant, target)) for target in record.widened_to]
        for table, key in keys:
            listed = table.get(key)
            if listed is not None:
                listed.pop(contact_id, None)
                if not listed:
                    del table[key]

    def _remember(self, tenant: str, record: ContactRecord) -> None:
        left = self.recent.setdefault((tenant, record.contact.queue), OrderedDict())
        left[record.contact.contact_id] = (_left_at(record), record)
        self._left_from[(tenant, record.contact.contact_id)] = record.contact.queue
        if len(left) > self.history_limit:
            dropped, _ = left.popitem(last=False)
            del self._left_from[(tenant, dropped)]

    def _forget(self, tenant: str, contact_id: str) -> None:
        """Drop the contact from the records that left, if it is there."""
        queue = self._left_from.pop((tenant, contact_id), None)
        if queue is None:
            return
        left = self.recent[(tenant, queue)]
        del left[contact_id]
        if not left:
            del self.recent[(tenant, queue)]

    # -- agents -----------------------------------------------------------------------------

    def put_agent(self, tenant: str, agent_id: str, ledger: AgentLedger | None) -> None:
        """The agent's ledger as now stored (None: deleted)."""
        key = (tenant, agent_id)
        if ledger is None:
            self.agents.pop(key, None)
            self.dirty_agents.discard(key)
        else:
            self.agents[key] = ledger
            for held in ledger.held:
                if held.state is ReservationState.OFFERED:
                    self.schedule(
                        Deadline(held.deadline, DeadlineKind.HOLD, tenant, agent_id, held.reservation_id)
                    )
            if ledger.held:
                self.dirty_agents.add(key)
            if ledger.state is not AgentState.OFFLINE:
                self.watch_heartbeat(tenant, agent_id, ledger.last_heartbeat)
        self.index_agent(tenant, agent_id, ledger)

    def index_agent(self, tenant: str, agent_id: str, ledger: AgentLedger | None) -> None:
        """Bring the tenant's agent index up to `ledger` (None: the agent is gone)."""
        index = self.indexes.get(tenant)
        if ledger is None or ledger.state not in ROUTABLE_STATES:
            if index is not None:
                index.remove(agent_id)
            return
        if index is None:
            index = self.indexes[tenant] = AgentIndex()
        index.put(AgentView(ledger.profile, ledger.state, ledger.load(), ledger.idle_since))

    def watch_heartbeat(self, tenant: str, agent_id: str, last_heartbeat: float) -> None:
        """Have the agent's heartbeat checked (once per agent; a newer one is read when popped)."""
        key = (tenant, agent_id)
        if key not in self._beating:
            self._beating.add(key)
            heapq.heappush(self.heartbeats, (last_heartbeat, tenant, agent_id))

    def heartbeats_before(self, before: float) -> list[tuple[str, str]]:
        """Pop the agents whose watched heartbeat is older than `before` (their ledger may have a
        newer one: the caller checks it, and watches the agent again while it is not offline)."""
        popped = []
        heap = self.heartbeats
        while heap and heap[0][0] < before:
            _, tenant, agent_id = heapq.heappop(heap)
            self._beating.discard((tenant, agent_id))
            popped.append((tenant, agent_id))
        return popped

    def take_dirty_agents(self) -> list[tuple[str, str]]:
        dirty = list(self.dirty_agents)
        self.dirty_agents.clear()
        return dirty

    # -- deadlines --------------------------------------------------------------------------

    def schedule(self, deadline: Deadline) -> None:
        if deadline not in self._scheduled:
            self._scheduled.add(deadline)
            heapq.heappush(self.deadlines, deadline)

    def due(self, now: float) -> list[Deadline]:
        """Pop the deadlines that have passed (possibly stale: check them against the records)."""
        popped = []
        heap = self.deadlines
        while heap and heap[0].at <= now:
            deadline = heapq.heappop(heap)
            self._scheduled.discard(deadline)
            popped.append(deadline)
        return popped

    def sizes(self) -> dict[str, int]:
        """How many entries each structure holds (what memory and loop work grow with)."""
        return {
            "agents": len(self.agents),
            "contacts": len(self.contacts),
            "live": sum(len(w) for w in self.live.values()),
            "waiting": sum(len(w) for w in self.waiting.values()),
            "recent": sum(len(r) for r in self.recent.values()),
            "deadlines": len(self.deadlines),
            "heartbeats": len(self.heartbeats),
            "dirty_agents": len(self.dirty_agents),
        }


def _left_at(record: ContactRecord) -> float:
    """When the record left routing, as far as it tells (closing time, else its last known time)."""
    return record.closed_at or max(record.answered_at, record.contact.enqueued_at)
