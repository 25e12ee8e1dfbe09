"""Standard contact-center metrics by interval and dimension (pure).

A report is computed in two steps. First the contacts of each (interval, group) are summed into
`Totals`: counts and sums only, which any engine can compute (the store does it in SQL over
millions of rows; `totals_by` here does it over a list, for the in-memory store and as the
reference the tests compare the store against). Then `metrics_of` turns totals into the metrics,
the one place their definitions live:

- offered: contacts that entered a queue; answered: of those, answered by an agent; abandoned:
  closed while waiting, never answered (each counted in the interval it entered the queue);
- service level: answered within the threshold / offered (abandoned contacts count against it);
  the threshold is the target of the queue the contact entered (for its channel, if the queue
  sets one), unless the report names one threshold for all;
- average speed of answer: mean queue wait of the answered; average handle time: mean of
  answer -> wrap-up; after-contact work: mean of last message -> wrap-up;
- transfers: transfers of the interval's contacts;
- first-contact resolution: answered contacts of a known customer with no further contact of
  that customer within `fcr_days`, over all answered contacts of known customers;
- sentiment: mean of the analysed messages' sentiment (-1 .. 1), interval by interval a trend.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from zoneinfo import ZoneInfo

from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_time import Interval, bucket_end, bucket_start, iso


class Dimension(StrEnum):
    QUEUE = "queue"
    AGENT = "agent"
    CHANNEL = "channel"
    BRAND = "brand"
    LANGUAGE = "language"
    INTENT = "intent"

    def of(self, fact: ContactFact) -> str:
        return str(getattr(fact, self.value))


#: The industry's default threshold (80% answered within 20 s) for queues that name none.
DEFAULT_THRESHOLD_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """A queue's service-level threshold, and the channels that have their own."""

    within_seconds: float = DEFAULT_THRESHOLD_SECONDS
    by_channel: Mapping[str, float] = field(default_factory=dict)

    def threshold(self, channel: str) -> float:
        return self.by_channel.get(channel, self.within_seconds)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """A checked report request (see `analytics_query.parse_report_query`)."""

    tenant_id: str
    #: [start, end) in epoch seconds.
    start: float
    end: float
    interval: Interval
    #: None: one row per interval for all the tenant's contacts.
    group_by: Dimension | None
    zone: ZoneInfo
    #: One threshold for every contact; None: each queue's own target (`queue_targets`).
    service_level_seconds: float | None = None
    fcr_days: int = 7
    #: Only these brands' contacts (a brand-scoped caller); empty: every brand.
    brands: frozenset[str] = frozenset()
    #: The tenant's queues' targets by queue name; a queue not named has the default.
    queue_targets: Mapping[str, QueueTarget] = field(default_factory=dict)

    def threshold(self, queue: str, channel: str) -> float:
        """The threshold a contact of `queue` on `channel` is answered within to count."""
        if self.service_level_seconds is not None:
            return self.service_level_seconds
        target = self.queue_targets.get(queue)
        return target.threshold(channel) if target is not None else DEFAULT_THRESHOLD_SECONDS

    @property
    def fcr_horizon(self) -> float:
        """Contacts up to this instant decide whether the period's contacts were resolved."""
        return self.end + self.fcr_days * 86_400


@dataclass(slots=True)
class Totals:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_in_threshold: int = 0
    wait_sum: float = 0.0
    handle_sum: float = 0.0
    acw_sum: float = 0.0
    acw_count: int = 0
    abandon_wait_sum: float = 0.0
    transfers: int = 0
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    sentiment_sum: float = 0.0
    sentiment_count: int = 0

    def add(self, other: Totals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class GroupTotals:
    bucket_start: float
    group: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class ReportRow:
    start: str
    end: str
    group: str
    offered: int
    answered: int
    abandoned: int
    #: Ratios and means are None where there is nothing to divide by.
    service_level: float | None
    abandon_rate: float | None
    average_speed_of_answer: float | None
    average_handle_time: float | None
    average_after_contact_work: float | None
    average_abandon_wait: float | None
    transfers: int
    first_contact_resolution: float | None
    sentiment: float | None
    #: By agent only (`analytics_agent_states`): time at work over time available or at work,
    #: and time in any state but offline (seconds).
    occupancy: float | None = None
    staffed_seconds: float | None = None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def metrics_of(totals: Totals) -> dict[str, float | int | None]:
    return {
        "offered": totals.offered,
        "answered": totals.answered,
        "abandoned": totals.abandoned,
        "service_level": _ratio(totals.answered_in_threshold, totals.offered),
        "abandon_rate": _ratio(totals.abandoned, totals.offered),
        "average_speed_of_answer": _ratio(totals.wait_sum, totals.answered),
        "average_handle_time": _ratio(totals.handle_sum, totals.answered),
        "average_after_contact_work": _ratio(totals.acw_sum, totals.acw_count),
        "average_abandon_wait": _ratio(totals.abandon_wait_sum, totals.abandoned),
        "transfers": totals.transfers,
        "first_contact_resolution": _ratio(totals.fcr_resolved, totals.fcr_eligible),
        "sentiment": _ratio(totals.sentiment_sum, totals.sentiment_count),
    }


def report_rows(query: ReportQuery, groups: Iterable[GroupTotals]) -> list[ReportRow]:
    """The report's rows in interval order, then group order."""
    rows = []
    for item in sorted(groups, key=lambda g: (g.bucket_start, g.group)):
        start = item.bucket_start
        rows.append(
            ReportRow(
                start=iso(start, query.zone),
                end=iso(bucket_end(start, query.interval, query.zone), query.zone),
                group=item.group,
                **metrics_of(item.totals),  # type: ignore[arg-type]
            )
        )
    return rows


def resolved_first_time(facts: Sequence[ContactFact], fcr_days: int) -> set[str]:
    """Contacts (ids) of a known customer with no other contact of that customer at the same
    instant or within `fcr_days` after (among `facts`, which must reach `fcr_days` past the
    contacts asked about)."""
    by_customer: dict[tuple[str, str], list[float]] = defaultdict(list)
    for fact in facts:
        if fact.customer_id:
            by_customer[(fact.tenant_id, fact.customer_id)].append(fact.created_at)
    for times in by_customer.values():
        times.sort()
    window = fcr_days * 86_400
    resolved = set()
    for fact in facts:
        if not fact.customer_id:
            continue
        times = by_customer[(fact.tenant_id, fact.customer_id)]
        # The contact itself is one of them; any other in [created, created + window] repeats it.
        within = bisect.bisect_right(times, fact.created_at + window) - bisect.bisect_left(
            times, fact.created_at
        )
        if within == 1:
            resolved.add(fact.contact_id)
    return resolved


def totals_of(fact: ContactFact, threshold: float, resolved: bool) -> Totals:
    totals = Totals(
        transfers=fact.transfers,
        sentiment_sum=fact.sentiment_sum,
        sentiment_count=fact.sentiment_count,
    )
    if fact.offered:
        totals.offered = 1
        if fact.answered:
            totals.answered = 1
            totals.answered_in_threshold = int(fact.wait_seconds <= threshold)
            totals.wait_sum = fact.wait_seconds
            totals.handle_sum = fact.handle_seconds
        if fact.abandoned:
            totals.abandoned = 1
            totals.abandon_wait_sum = fact.abandon_seconds
    if fact.answered:
        if fact.acw_seconds > 0:
            totals.acw_sum, totals.acw_count = fact.acw_seconds, 1
        if fact.customer_id:
            totals.fcr_eligible = 1
            totals.fcr_resolved = int(resolved)
    return totals


def in_scope(fact: ContactFact, query: ReportQuery) -> bool:
    return (
        fact.tenant_id == query.tenant_id
        and query.start <= fact.arrived_at < query.end
        and (not query.brands or fact.brand in query.brands)
    )


def totals_by(facts: Sequence[ContactFact], query: ReportQuery) -> list[GroupTotals]:
    """The reference computation: `facts` must reach `query.fcr_horizon`."""
    tenant_facts = [f for f in facts if f.tenant_id == query.tenant_id]
    resolved = resolved_first_time(tenant_facts, query.fcr_days)
    groups: dict[tuple[float, str], Totals] = defaultdict(Totals)
    for fact in tenant_facts:
        if not in_scope(fact, query):
            continue
        bucket = bucket_start(fact.arrived_at, query.interval, query.zone)
        group = query.group_by.of(fact) if query.group_by is not None else ""
        threshold = query.threshold(fact.queue, fact.channel)
        groups[(bucket, group)].add(totals_of(fact, threshold, fact.contact_id in resolved))
    return [GroupTotals(bucket, group, totals) for (bucket, group), totals in groups.items()]
