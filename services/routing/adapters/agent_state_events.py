"""An agent's state changes as `AgentStateChanged` events, staged in the ledger's own write.

The store asks its `AgentStateAnnouncer` inside every ledger write (the one place a ledger's
state is written), so the event is stored in the ledger's outbox by the same compare-and-set
write as the state; once the write is stored the announcer publishes it and notes it sent, as
the use cases do with theirs. A crash in between leaves it to the outbox's sweeper, and its id,
fixed by the change, lets the stream drop a second publish of a retried write.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ccmesh.envelope import new_event, stable_event_id, timestamp_at
from ccmesh.outbox import Entry, SentIds, entry_of_event
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import ACD_SOURCE
from routing.domain.agent_state_events import AgentStateChange, state_change
from routing.domain.reservations import AgentLedger

_AGENT_KEY_PREFIX = "agent."
log = logging.getLogger(__name__)


def agent_subject_id(agent_id: str) -> str:
    """The envelope's contact id, which is the subject's last token: an agent's state changes
    concern no contact, and one token per agent lets a subscriber follow one agent."""
    return f"agent-{agent_id}"


def to_protobuf(change: AgentStateChange, region: str, at: float) -> events_pb2.Event:
    return new_event(
        events_pb2.AgentStateChanged(
            agent_id=change.agent_id,
            previous_state=change.previous.value,
            state=change.state.value,
            reason=change.reason,
        ),
        tenant_id=change.tenant,
        region=region,
        source=ACD_SOURCE,
        contact_id=agent_subject_id(change.agent_id),
        event_id=stable_event_id("agent-state", change.tenant, change.agent_id, *change.identity),
        occurred_at=timestamp_at(at),
    )


def staged_state_change(
    key: str,
    before: object,
    after: object,
    region: str,
    at: float,
    heartbeat_timeout_seconds: float,
) -> list[Entry]:
    """The outbox entry announcing the state change of the ledger at `key`, if it changed; none
    for other records, or without a region (no sweeper would publish it)."""
    if not region or not key.startswith(_AGENT_KEY_PREFIX) or not isinstance(after, AgentLedger):
        return []
    previous = before if isinstance(before, AgentLedger) else None
    tenant = key.split(".", 2)[1]
    change = state_change(tenant, previous, after, heartbeat_timeout_seconds)
    if change is None:
        return []
    return [entry_of_event(to_protobuf(change, region, at), region, at=at)]


class AgentStateAnnouncer:
    """Stages each ledger write's state change and publishes it once the write is stored.

    Without `publish` (or a region) it only stages: the outbox's sweeper sends what is staged.
    The announcer keeps no state between the two: the write hands back what its stored attempt
    staged, so concurrent writes of one ledger never publish each other's changes."""

    def __init__(
        self,
        region: str,
        *,
        heartbeat_timeout_seconds: float = 30.0,
        publish: Callable[[Entry], Awaitable[None]] | None = None,
    ) -> None:
        self._region = region
        self._timeout = heartbeat_timeout_seconds
        self._publish = publish

    def stage(self, key: str, before: object, after: object, at: float) -> list[Entry]:
        """Inside the write's pure mutation: the entries to store with `after`."""
        return staged_state_change(key, before, after, self._region, at, self._timeout)

    async def publish(self, entries: list[Entry], sent: SentIds) -> None:
        """After a write was stored: publish what its stored attempt staged (none already sent),
        and note it `sent` (the ledger's next write drops it from the outbox)."""
        if self._publish is None:
            return
        for entry in entries:
            if entry.msg_id in sent:
                continue
            try:
                await self._publish(entry)
            except Exception:
                # Still in the ledger's outbox: its sweeper sends it.
                log.warning(
                    "agent state event %s not published; left to the outbox", entry.msg_id, exc_info=True
                )
                return
            sent.add(entry.msg_id)
