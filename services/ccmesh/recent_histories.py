"""Contact histories read lately, kept per process so that reading one again asks the stream only
for what was stored since.

An agent's workspace reads a contact's history several times within a second (the offer's view,
the accept, the conversation): the first read takes the whole history from the stream, the next
ones one request each for the events stored after the last one read (a request and a not-found
answer when nothing is new). Every read still asks the stream, so nothing stored is missed.

Bounded: a history is kept at most `ttl_seconds` after its full read (then read whole again, so
what the stream's retention removed leaves the cache too), and the least recently read ones go
first once more than `max_events` events are held. Entries are per tenant and contact.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.js.client import JetStreamContext

from ccmesh.contact_history import MAX_HISTORY_EVENTS, once_each, read_contact_events
from contactcenter.events.v1 import events_pb2

#: A history's full read is trusted this long; a workspace's reads of one contact fall within it.
TTL_SECONDS = 30.0
#: Events held across every kept history.
MAX_EVENTS = 50_000


@dataclass
class _Kept:
    read_at: float
    next_sequence: int = 1
    #: Messages read (they count toward the history's limit, as in a single read).
    read: int = 0
    events: list[events_pb2.Event] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


class RecentHistories:
    """`of_contact(tenant_id, contact_id)`: the contact's events, oldest first, each id once."""

    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_events: int = MAX_EVENTS,
        limit: int = MAX_HISTORY_EVENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._js = js
        self._region = region
        self._ttl = ttl_seconds
        self._max_events = max_events
        self._limit = limit
        self._clock = clock
        self._kept: OrderedDict[tuple[str, str], _Kept] = OrderedDict()
        self._held = 0

    @property
    def held_events(self) -> int:
        return self._held

    def __len__(self) -> int:
        return len(self._kept)

    async def of_contact(self, tenant_id: str, contact_id: str) -> list[events_pb2.Event]:
        key = (tenant_id, contact_id)
        now = self._clock()
        kept = self._kept.get(key)
        if kept is None or now - kept.read_at >= self._ttl:
            self._forget(key)
            kept = _Kept(read_at=now)
        page = await read_contact_events(
            self._js,
            self._region,
            tenant_id,
            contact_id,
            start=kept.next_sequence,
            limit=self._limit - kept.read,
        )
        # Two reads of one contact may overlap: each adds only what is new in stream order, and an
        # event both found is added once.
        added = once_each(page.events, kept.seen)
        kept.events.extend(added)
        kept.read += page.read
        kept.next_sequence = max(kept.next_sequence, page.next_sequence)
        self._keep(key, kept, len(added))
        return list(kept.events)

    def _keep(self, key: tuple[str, str], kept: _Kept, added: int) -> None:
        current = self._kept.get(key)
        if current is kept:
            self._held += added
            self._kept.move_to_end(key)
        elif current is None:
            self._kept[key] = kept
            self._held += len(kept.events)
        else:  # a later full read replaced it meanwhile: that one stays
            return
        while self._held > self._max_events and len(self._kept) > 1:
            oldest = next(iter(self._kept))
            self._forget(oldest)
        if self._held > self._max_events:  # one history larger than the whole budget
            self._forget(key)

    def _forget(self, key: tuple[str, str]) -> None:
        gone = self._kept.pop(key, None)
        if gone is not None:
            self._held -= len(gone.events)
