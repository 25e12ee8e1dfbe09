"""What the analytics store keeps of a contact, folded from the contact's events (pure).

The event stream says what happened step by step; reports want one row per contact with its
timings. `ContactLedger` holds the contacts still open and folds each event into its contact;
a contact becomes a `ContactFact` (a finished row) when it closes. Every event is applied once
by its id: a redelivered event changes nothing, and events of a contact finished a short while
ago are recognised and ignored, so a consumer that restarts mid-stream doubles nothing.

Timings (seconds):
- queue wait: first time queued -> first accepted (the answer); abandoned contacts have
  `abandon_seconds` instead: first queued -> closed, never answered;
- handle: accepted -> wrapped up (or closed, when no wrap-up came), talk plus after-contact work;
- after-contact work: the conversation's last message after the answer (or the answer itself,
  when none came, as on voice) -> wrapped up.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

#: Outcome of a contact closed while waiting in a queue, never answered.
ABANDONED = "abandoned"
#: Outcome of a contact an overflow rule handed to another region (counted there, not here).
OVERFLOWED = "overflowed"
#: Outcome of a contact stored after a day without events, never closed.
UNCLOSED = "unclosed"


class Step(StrEnum):
    """The events the store folds; everything else on the stream is not analytics' business."""

    CREATED = "created"
    QUEUED = "queued"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    MESSAGE = "message"
    INSIGHT = "insight"
    WRAPPED_UP = "wrapped_up"
    CLOSED = "closed"
    #: Handed to another region's queue: the contact ends here.
    OVERFLOWED = "overflowed"


#: The events a contact starts with: any other event of a contact the ledger does not know is
#: a late one (an insight after the close) and must not open a contact of its own.
OPENING_STEPS = frozenset({Step.CREATED, Step.QUEUED})
#: The events that end a contact here.
ENDING_STEPS = frozenset({Step.CLOSED, Step.OVERFLOWED})
#: The events a contact counts (transfers, analysed messages): only their ids are remembered to
#: apply each once. Every other step keeps the earliest or the latest value, which the same
#: event applied again (redeliveries come again in stream order) leaves as it was.
COUNTED_STEPS = frozenset({Step.TRANSFERRED, Step.INSIGHT})


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """One event of a contact, as much of it as analytics needs (no personal data)."""

    event_id: str
    tenant_id: str
    contact_id: str
    step: Step
    #: Seconds since the epoch (UTC).
    at: float
    brand: str = ""
    channel: str = ""
    #: Pseudonymous customer id (for first-contact resolution), on `created`.
    customer_id: str = ""
    queue: str = ""
    agent: str = ""
    language: str = ""
    intent: str = ""
    #: -1 .. 1 when `has_sentiment`.
    sentiment: float = 0.0
    has_sentiment: bool = False
    #: Close outcome or wrap-up disposition.
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class ContactFact:
    """One finished contact: the row reports are computed from."""

    contact_id: str
    tenant_id: str
    brand: str
    channel: str
    customer_id: str
    #: The queue it entered first (empty: never queued, e.g. a bot served it), and the last one.
    queue: str
    final_queue: str
    #: The agent who answered last (empty: never answered).
    agent: str
    language: str
    intent: str
    #: Mean sentiment of the analysed messages and how many there were.
    sentiment_sum: float
    sentiment_count: int
    outcome: str
    created_at: float
    #: When it first entered a queue (0: never); the interval a contact counts in.
    queued_at: float
    answered_at: float
    closed_at: float
    wait_seconds: float
    handle_seconds: float
    acw_seconds: float
    abandon_seconds: float
    transfers: int
    answered: bool
    abandoned: bool

    @property
    def offered(self) -> bool:
        return self.queued_at > 0

    @property
    def arrived_at(self) -> float:
        """The instant that places the contact in a reporting interval: its arrival in the queue
        (the convention of contact-center reports), or its creation if it never queued."""
        return self.queued_at or self.created_at


@dataclass(slots=True)
class OpenContact:
    """A contact not yet closed: what its events said so far."""

    contact_id: str
    tenant_id: str
    brand: str = ""
    channel: str = ""
    customer_id: str = ""
    queue: str = ""
    final_queue: str = ""
    agent: str = ""
    language: str = ""
    intent: str = ""
    sentiment_sum: float = 0.0
    sentiment_count: int = 0
    outcome: str = ""
    disposition: str = ""
    created_at: float = 0.0
    queued_at: float = 0.0
    answered_at: float = 0.0
    last_message_at: float = 0.0
    wrapped_up_at: float = 0.0
    transfers: int = 0
    #: Latest event time seen (idle contacts are finished by `ContactLedger.expire`).
    last_seen: float = 0.0
    #: Ids of the counted events applied (see `COUNTED_STEPS`).
    applied: set[str] = field(default_factory=set)

    def apply(self, event: ContactEvent) -> None:
        # A counted event seen before adds nothing; its other fields apply like any event's.
        fresh = event.event_id not in self.applied
        if event.step in COUNTED_STEPS:
            self.applied.add(event.event_id)
        self.last_seen = max(self.last_seen, event.at)
        self.brand = self.brand or event.brand
        self.channel = self.channel or event.channel
        match event.step:
            case Step.CREATED:
                self.created_at = _earliest(self.created_at, event.at)
                self.customer_id = self.customer_id or event.customer_id
            case Step.QUEUED:
                self.queued_at = _earliest(self.queued_at, event.at)
                self.queue = self.queue or event.queue
                self.final_queue = event.queue or self.final_queue
                self.language = self.language or event.language
                self.intent = self.intent or event.intent
            case Step.ACCEPTED:
                self.answered_at = _earliest(self.answered_at, event.at)
                self.agent = event.agent or self.agent
            case Step.TRANSFERRED:
                self.transfers += int(fresh)
                self.final_queue = event.queue or self.final_queue
            case Step.MESSAGE:
                self.last_message_at = max(self.last_message_at, event.at)
            case Step.INSIGHT:
                self.language = self.language or event.language
                self.intent = self.intent or event.intent
                if event.has_sentiment and fresh:
                    self.sentiment_sum += event.sentiment
                    self.sentiment_count += 1
            case Step.WRAPPED_UP:
                self.wrapped_up_at = _earliest(self.wrapped_up_at, event.at)
                self.disposition = event.outcome or self.disposition
                self.agent = self.agent or event.agent
            case Step.CLOSED:
                self.outcome = event.outcome
            case Step.OVERFLOWED:
                self.outcome = OVERFLOWED

    def finish(self, closed_at: float, closed: bool = True) -> ContactFact:
        """The contact's row; `closed` False: it is stored for being idle, not for an end."""
        created = self.created_at or self.queued_at or closed_at
        answered = self.answered_at > 0
        left = closed and self.outcome != OVERFLOWED
        abandoned = self.queued_at > 0 and not answered and left
        if not closed:
            self.outcome = UNCLOSED
        wait = self.answered_at - self.queued_at if answered and self.queued_at else 0.0
        end = self.wrapped_up_at or closed_at
        handle = max(end - self.answered_at, 0.0) if answered else 0.0
        talk_end = max(self.last_message_at, self.answered_at)
        acw = max(self.wrapped_up_at - talk_end, 0.0) if answered and self.wrapped_up_at else 0.0
        return ContactFact(
            contact_id=self.contact_id,
            tenant_id=self.tenant_id,
            brand=self.brand,
            channel=self.channel,
            customer_id=self.customer_id,
            queue=self.queue,
            final_queue=self.final_queue or self.queue,
            agent=self.agent if answered else "",
            language=self.language,
            intent=self.intent,
            sentiment_sum=self.sentiment_sum,
            sentiment_count=self.sentiment_count,
            outcome=ABANDONED if abandoned else (self.disposition or self.outcome),
            created_at=created,
            queued_at=self.queued_at,
            answered_at=self.answered_at,
            closed_at=closed_at,
            wait_seconds=max(wait, 0.0),
            handle_seconds=handle,
            acw_seconds=acw,
            abandon_seconds=max(closed_at - self.queued_at, 0.0) if abandoned else 0.0,
            transfers=self.transfers,
            answered=answered,
            abandoned=abandoned,
        )


def _earliest(current: float, candidate: float) -> float:
    return candidate if not current else min(current, candidate)


class ContactLedger:
    """The open contacts and the recently finished ones; folds events into contacts.

    `finished_memory` bounds how many finished contacts are remembered to recognise their
    redelivered events; it must cover what a consumer can get again after a restart (what was
    not yet acknowledged), which is far less than this.
    """

    def __init__(
        self,
        open_contacts: Iterable[OpenContact] = (),
        finished: Iterable[str] = (),
        finished_memory: int = 200_000,
    ) -> None:
        self._open: dict[str, OpenContact] = {c.contact_id: c for c in open_contacts}
        self._finished: OrderedDict[str, None] = OrderedDict.fromkeys(finished)
        self._memory = finished_memory

    def apply(self, events: Iterable[ContactEvent]) -> list[ContactFact]:
        """Fold `events` in their order; the contacts they closed, as facts."""
        facts: list[ContactFact] = []
        for event in events:
            if event.contact_id in self._finished:
                continue  # a late or redelivered event of a contact already stored
            contact = self._open.get(event.contact_id)
            if contact is None:
                if event.step not in OPENING_STEPS:
                    continue  # a late event of a contact finished before anything remembered
                contact = self._open[event.contact_id] = OpenContact(event.contact_id, event.tenant_id)
            contact.apply(event)
            if event.step in ENDING_STEPS:
                facts.append(self._close(contact, event.at))
        return facts

    def expire(self, idle_seconds: float, now: float) -> list[ContactFact]:
        """Finish the contacts no event has touched for `idle_seconds` (a conversation a bot
        served that nobody closed): they are stored as they stand, not kept open forever."""
        stale = [c for c in self._open.values() if now - c.last_seen > idle_seconds]
        return [self._close(c, c.last_seen, closed=False) for c in stale]

    def _close(self, contact: OpenContact, at: float, closed: bool = True) -> ContactFact:
        del self._open[contact.contact_id]
        self._finished[contact.contact_id] = None
        while len(self._finished) > self._memory:
            self._finished.popitem(last=False)
        return contact.finish(at, closed)

    def open_contacts(self) -> Iterator[OpenContact]:
        return iter(self._open.values())

    def finished(self) -> list[str]:
        return list(self._finished)

    def snapshot(self) -> ContactLedger:
        """An independent copy (what a store writes must not change under it)."""
        return ContactLedger(
            (replace(c, applied=set(c.applied)) for c in self._open.values()),
            self._finished,
            self._memory,
        )
