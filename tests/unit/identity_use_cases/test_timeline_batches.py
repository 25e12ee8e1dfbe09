"""`record_events`: a batch of events makes the same timeline as one event at a time, reading a
contact's link at most once per batch, and a failing append fails only its own event."""

from __future__ import annotations

from fakes.identity_fakes import TENANT, FakeHistory

from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from identity.domain.timeline import ContactLink, TimelineEntry
from identity.service_layer.timeline import record_event, record_events

SMS = common_pb2.CHANNEL_KIND_SMS


class CountingHistory(FakeHistory):
    def __init__(self, failing_entry: str = "") -> None:
        super().__init__()
        self.link_reads = 0
        self._failing_entry = failing_entry

    async def linked(self, tenant_id: str, contact_id: str) -> ContactLink | None:
        self.link_reads += 1
        return await super().linked(tenant_id, contact_id)

    async def append(self, tenant_id: str, entry: TimelineEntry) -> bool:
        if entry.entry_id == self._failing_entry:
            raise ConnectionError("history bucket unreachable")
        return await super().append(tenant_id, entry)


def event(event_id: str, contact_id: str, **payload: object) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=event_id, tenant=common_pb2.TenantRef(tenant_id=TENANT), contact_id=contact_id, **payload
    )


def a_contact(contact_id: str, customer_id: str) -> list[events_pb2.Event]:
    """What one contact's life puts on the stream, timeline events and others mixed."""
    return [
        event(
            f"{contact_id}-1",
            contact_id,
            contact_created=events_pb2.ContactCreated(channel=SMS, customer_id=customer_id),
        ),
        event(
            f"{contact_id}-2",
            contact_id,
            contact_queued=events_pb2.ContactQueued(queue="support", channel=SMS),
        ),
        event(
            f"{contact_id}-3",
            contact_id,
            message_sent=events_pb2.MessageSent(message_id="m", channel=SMS, text="hi"),
        ),
        event(f"{contact_id}-4", contact_id, contact_closed=events_pb2.ContactClosed(outcome="resolved")),
    ]


async def timeline(history: FakeHistory, customer_id: str) -> list[str]:
    entries, _ = await history.entries_after(TENANT, customer_id, 0, 100, frozenset())
    return [entry.entry_id for _, entry in entries]


async def test_a_batch_makes_the_timeline_one_event_at_a_time_makes_without_reading_links() -> None:
    events = a_contact("c1", "cust-1") + a_contact("c2", "cust-2")
    one_by_one, batched = CountingHistory(), CountingHistory()
    for each in events:
        await record_event(one_by_one, each)
    assert await record_events(batched, events) == [None] * len(events)
    for customer in ("cust-1", "cust-2"):
        assert await timeline(batched, customer) == await timeline(one_by_one, customer)
    assert await timeline(batched, "cust-1") == ["c1-1", "c1-3", "c1-4"]
    # The batch made each link itself; the queued event needed none.
    assert batched.link_reads == 0
    assert one_by_one.link_reads == 2 * 2


async def test_a_contact_created_in_an_earlier_batch_is_read_once_per_batch() -> None:
    history = CountingHistory()
    first, *rest = a_contact("c1", "cust-1")
    await record_events(history, [first])
    assert await record_events(history, rest) == [None] * len(rest)
    assert history.link_reads == 1
    assert await timeline(history, "cust-1") == ["c1-1", "c1-3", "c1-4"]
    # A redelivered batch appends nothing twice.
    await record_events(history, rest)
    assert await timeline(history, "cust-1") == ["c1-1", "c1-3", "c1-4"]


async def test_a_failing_append_fails_only_its_own_event() -> None:
    history = CountingHistory(failing_entry="c1-3")
    events = a_contact("c1", "cust-1") + a_contact("c2", "cust-2")
    outcomes = await record_events(history, events)
    failed = [events[index].event_id for index, outcome in enumerate(outcomes) if outcome is not None]
    assert failed == ["c1-3"]
    assert isinstance(outcomes[2], ConnectionError)
    assert await timeline(history, "cust-1") == ["c1-1", "c1-4"]
    assert await timeline(history, "cust-2") == ["c2-1", "c2-3", "c2-4"]


class FlakyLinks(CountingHistory):
    """A history whose next link writes fail (the bucket away for a moment)."""

    def __init__(self, failing_links: int) -> None:
        super().__init__()
        self.failing_links = failing_links

    async def link(self, tenant_id: str, contact_id: str, link: ContactLink) -> None:
        if self.failing_links:
            self.failing_links -= 1
            raise ConnectionError("history bucket unreachable")
        await super().link(tenant_id, contact_id, link)


async def test_a_failing_link_write_fails_its_contact_created_and_the_redelivery_completes_it() -> None:
    history = FlakyLinks(failing_links=1)
    events = a_contact("c1", "cust-1")
    outcomes = await record_events(history, events)
    assert [events[i].event_id for i, outcome in enumerate(outcomes) if outcome is not None] == ["c1-1"]
    # The batch still knew the link: the contact's later events are on the timeline already.
    assert await timeline(history, "cust-1") == ["c1-1", "c1-3", "c1-4"]
    assert await history.linked(TENANT, "c1") is None
    # Redelivered (only the failed event comes back): the link is stored, nothing is doubled.
    assert await record_events(history, [events[0]]) == [None]
    assert await history.linked(TENANT, "c1") == ContactLink("cust-1", SMS)
    assert await timeline(history, "cust-1") == ["c1-1", "c1-3", "c1-4"]
