"""The live surge feed: every interval, each queue's signals through its detectors.

At the end of each interval (aligned to the wall clock, so every instance of the region judges
the same intervals) the watch reads routing's working set and measures, per tenant, per queue
and per queue and channel (`SurgeKey` with empty queue / channel for "all"):

- arrivals: contacts that arrived since the last interval;
- waiting: contacts waiting now; longest wait: how long the oldest of them has waited;
- abandoned: contacts that left since the last interval without ever being answered;
- service level: the share answered within the queue's target over the last
  `service_level_window_seconds` (NaN, so not judged, while nothing had an outcome).

The working set is a copy that lags the store a little: a contact that arrived (or left) just
before an interval's end may only show in the next one. Arrivals and abandons are therefore
counted once each by contact (`Counted`), in the first interval that sees them, within a grace
period, rather than by the interval their timestamp falls in.

Each (key, metric) has its own `ccsurge.detector.Detector`, created the first time the key is
seen and fed every interval after (a quiet channel is a zero, which is a signal too). On start,
before the first interval, the arrivals detectors learn the region's own history (the arrivals
on its event stream over `history_seconds`), so a restart does not start the seasonal baselines
from nothing. An alert's rising edge is published as `SurgeDetected` (its event id is fixed by
the interval, so the same alert from two instances is one event); every assessment of the
interval, alerting or not, goes to the `AssessmentSink` (the fallback policy engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ccmesh.channels import Channel
from ccsurge.assessment import Assessment, SurgeKey, SurgeMetric
from ccsurge.detector import Detector
from ccsurge.history import PastArrival, interval_counts
from ccsurge.settings import settings_for
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, ServiceLevelTarget
from routing.domain.service_level import measure
from routing.service_layer.acd_stats import service_samples
from routing.service_layer.ports import NO_ASSESSMENT_SINK, AcdView, AssessmentSink

log = logging.getLogger(__name__)

#: Publishes the rising edge of an alert (`routing.adapters.surge_event_codec` makes the event).
SurgePublisher = Callable[[Assessment, float], Awaitable[None]]
#: The region's arrivals between two times (`routing.adapters.surge_history` reads the stream).
ArrivalHistory = Callable[[float, float], Awaitable[Iterable[PastArrival]]]
#: Rising edges kept for a publish retry at most (the oldest go first when the stream is away long).
MAX_UNPUBLISHED = 1_000
#: At most this many intervals of history are learned per signal (a short interval: a shorter past).
MAX_HISTORY_INTERVALS = 50_000


@dataclass(frozen=True)
class SurgeWatchSettings:
    #: Seconds per observation (the detectors' interval).
    interval_seconds: float = 60.0
    #: The window the measured service level is taken over.
    service_level_window_seconds: float = 900.0
    #: Detector overrides: every score times this; how long an anomaly must last to alert, and
    #: how long calm must last before the alert clears.
    sensitivity: float = 1.0
    min_duration_seconds: float = 60.0
    clear_duration_seconds: float = 120.0
    #: Seconds added to UTC for the seasonal slots (the region's local time).
    utc_offset_seconds: float = 0.0
    #: How far back the arrivals' history is read on start (four weeks: four of each weekday).
    history_seconds: float = 28 * 86_400.0


@dataclass
class _Tally:
    """One key's signals over one interval."""

    arrivals: int = 0
    waiting: int = 0
    longest_wait: float = 0.0
    abandoned: int = 0
    counted: int = 0
    in_time: int = 0

    def values(self) -> dict[SurgeMetric, float]:
        return {
            SurgeMetric.ARRIVALS: float(self.arrivals),
            SurgeMetric.WAITING: float(self.waiting),
            SurgeMetric.LONGEST_WAIT: self.longest_wait,
            SurgeMetric.ABANDONED: float(self.abandoned),
            SurgeMetric.SERVICE_LEVEL: self.in_time / self.counted if self.counted else math.nan,
        }


class Counted:
    """Which arrivals and abandons were counted already, for `grace_seconds` after they happened."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._seen: dict[tuple[str, str, str], float] = {}

    def first(self, kind: str, tenant: str, contact_id: str, at: float, now: float) -> bool:
        """Whether this is the first time the event (kind, contact) at `at` is counted; an event
        older than the grace period is not counted at all (it belongs to before the watch)."""
        if at <= now - self.grace_seconds:
            return False
        key = (kind, tenant, contact_id)
        if key in self._seen:
            return False
        self._seen[key] = at
        return True

    def forget_before(self, before: float) -> None:
        self._seen = {key: at for key, at in self._seen.items() if at > before}


def queue_signals(
    region: str,
    tenant: str,
    queue: QueueSpec | None,
    queue_name: str,
    records: Iterable[ContactRecord],
    now: float,
    service_level_window_seconds: float,
    counted: Counted,
) -> dict[SurgeKey, _Tally]:
    """The queue's signals at `now`, for the queue and each of its channels."""
    whole = _Tally()
    by_channel: dict[str, _Tally] = {}
    #: Per channel, the records the measured service level may count (those of its window).
    recent: dict[str, list[ContactRecord]] = {}
    since = now - service_level_window_seconds
    for record in records:
        contact = record.contact
        channel = contact.channel.value
        tally = by_channel.get(channel)
        if tally is None:
            tally = by_channel[channel] = _Tally()
            recent[channel] = []
        if contact.enqueued_at >= since:
            recent[channel].append(record)
        arrived = counted.first("arrived", tenant, contact.contact_id, contact.enqueued_at, now)
        abandoned = (
            record.status is ContactStatus.CLOSED
            and not record.answered_at
            and not record.closed_action
            and counted.first("abandoned", tenant, contact.contact_id, record.closed_at, now)
        )
        for target in (whole, tally):
            target.arrivals += arrived
            target.abandoned += abandoned
            if record.status is ContactStatus.WAITING:
                target.waiting += 1
                target.longest_wait = max(target.longest_wait, now - contact.enqueued_at)
    for channel, tally in by_channel.items():
        level = measure(
            service_samples(recent[channel]),
            _target(queue, Channel(channel)).within_seconds,
            now,
            service_level_window_seconds,
        )
        tally.counted, tally.in_time = level.counted, level.answered_in_time
        whole.counted += level.counted
        whole.in_time += level.answered_in_time
    signals = {SurgeKey(region, tenant, queue_name, channel): t for channel, t in by_channel.items()}
    signals[SurgeKey(region, tenant, queue_name)] = whole
    return signals


def _target(queue: QueueSpec | None, channel: Channel) -> ServiceLevelTarget:
    return ServiceLevelTarget() if queue is None else queue.target_for(channel)


def tenant_total(region: str, tenant: str, tallies: Iterable[_Tally]) -> tuple[SurgeKey, _Tally]:
    total = _Tally()
    for tally in tallies:
        total.arrivals += tally.arrivals
        total.waiting += tally.waiting
        total.longest_wait = max(total.longest_wait, tally.longest_wait)
        total.abandoned += tally.abandoned
        total.counted += tally.counted
        total.in_time += tally.in_time
    return SurgeKey(region, tenant), total


class SurgeWatch:
    def __init__(
        self,
        view: AcdView,
        region: str,
        publish: SurgePublisher,
        *,
        sink: AssessmentSink = NO_ASSESSMENT_SINK,
        settings: SurgeWatchSettings | None = None,
        clock: Callable[[], float] | None = None,
        history: ArrivalHistory | None = None,
    ) -> None:
        self._view = view
        self._region = region
        self._publish = publish
        self.sink = sink
        self.settings = settings or SurgeWatchSettings()
        self._clock = clock or time.time
        self._history = history
        #: Rising edges whose SurgeDetected could not be published yet, oldest first.
        self._unpublished: list[Assessment] = []
        self._detectors: dict[tuple[SurgeKey, SurgeMetric], Detector] = {}
        #: Every key seen, so a key keeps being fed (zeros) once its traffic stops.
        self._keys: set[SurgeKey] = set()
        # A record shows in the working set a moment after its write; a few intervals of grace
        # (at least half a minute) and it is counted in the first interval that sees it.
        self._counted = Counted(max(3 * self.settings.interval_seconds, 30.0))
        self._task: asyncio.Task[None] | None = None

    def detector_of(self, key: SurgeKey, metric: SurgeMetric) -> Detector | None:
        """The detector judging `metric` at `key`, once the key was seen (for reports and tests)."""
        return self._detectors.get((key, metric))

    def _detector(self, key: SurgeKey, metric: SurgeMetric) -> Detector:
        detector = self._detectors.get((key, metric))
        if detector is None:
            s = self.settings
            detector = self._detectors[(key, metric)] = Detector(
                key,
                metric,
                settings_for(
                    metric,
                    sensitivity=s.sensitivity,
                    min_duration_seconds=s.min_duration_seconds,
                    clear_duration_seconds=s.clear_duration_seconds,
                    utc_offset_seconds=s.utc_offset_seconds,
                ),
            )
        return detector

    def observe(self, end: float) -> list[Assessment]:
        """Measure the interval ending at `end` and judge it; the detectors' state moves on."""
        view = self._view
        names = set(view.queues) | {key for key, waiting in view.waiting.items() if waiting}
        by_tenant: dict[str, list[_Tally]] = {}
        signals: dict[SurgeKey, _Tally] = {}
        for tenant, queue_name in sorted(names):
            found = queue_signals(
                self._region,
                tenant,
                view.queues.get((tenant, queue_name)),
                queue_name,
                view.queue_records(tenant, queue_name),
                end,
                self.settings.service_level_window_seconds,
                self._counted,
            )
            signals.update(found)
            by_tenant.setdefault(tenant, []).append(found[SurgeKey(self._region, tenant, queue_name)])
        for tenant, tallies in by_tenant.items():
            key, total = tenant_total(self._region, tenant, tallies)
            signals[key] = total
        self._counted.forget_before(end - self._counted.grace_seconds)
        self._keys.update(signals)
        assessments: list[Assessment] = []
        for key in sorted(self._keys, key=SurgeKey.label):
            values = (signals.get(key) or _Tally()).values()
            for metric, value in values.items():
                assessments.append(self._detector(key, metric).observe(end, value))
        return assessments

    def rising(self, assessments: Iterable[Assessment]) -> list[Assessment]:
        """The assessments whose alert rose at this interval (the detector just alerted)."""
        return [a for a in assessments if a.alert and self._just_alerted(a)]

    def _just_alerted(self, assessment: Assessment) -> bool:
        return self._detectors[(assessment.key, assessment.metric)].alert_started_at == assessment.at

    async def tick(self, end: float) -> list[Assessment]:
        """One interval: observe, publish rising edges, hand everything to the sink."""
        assessments = self.observe(end)
        for assessment in self.rising(assessments):
            log.info(
                "surge detected: %s %s = %.4g (baseline %.4g, score %.1f)",
                assessment.key.label(),
                assessment.metric.value,
                assessment.value,
                assessment.baseline,
                assessment.score,
            )
            self._unpublished.append(assessment)
        await self._publish_detected()
        try:
            await self.sink.take_assessments(assessments)
        except Exception:
            log.exception("the assessment sink failed; the watch goes on")
        return assessments

    async def _publish_detected(self) -> None:
        """Publish the rising edges not yet out; one that fails waits for the next interval (its
        event id is fixed, so a publish that did land after all is dropped as a duplicate)."""
        waiting, self._unpublished = self._unpublished, []
        for number, assessment in enumerate(waiting):
            try:
                await self._publish(assessment, self.settings.interval_seconds)
            except Exception:
                log.warning("SurgeDetected not published; retried next interval", exc_info=True)
                self._unpublished = (waiting[number:] + self._unpublished)[-MAX_UNPUBLISHED:]
                return

    def next_end(self, now: float) -> float:
        interval = self.settings.interval_seconds
        return (math.floor(now / interval) + 1) * interval

    def learn_arrivals(self, arrivals: Iterable[PastArrival], since: float, until: float) -> int:
        """Seed the arrivals detectors with past arrivals in (since, until] (interval boundaries):
        per queue and channel, per queue, per tenant, one count per interval; the number of
        signals seeded."""
        interval = self.settings.interval_seconds
        times: dict[SurgeKey, list[float]] = {}
        for arrival in arrivals:
            region, tenant = self._region, arrival.tenant_id
            for key in (
                SurgeKey(region, tenant, arrival.queue, arrival.channel),
                SurgeKey(region, tenant, arrival.queue),
                SurgeKey(region, tenant),
            ):
                times.setdefault(key, []).append(arrival.at)
        for key, at in times.items():
            ends, counts = interval_counts(at, since, until, interval)
            self._detector(key, SurgeMetric.ARRIVALS).learn_history(ends, counts)
        self._keys.update(times)
        return len(times)

    async def learn_history(self) -> None:
        """Read the region's arrivals of the last `history_seconds` and seed the detectors."""
        if self._history is None:
            return
        interval = self.settings.interval_seconds
        until = self.next_end(self._clock()) - interval
        lookback = min(self.settings.history_seconds, interval * MAX_HISTORY_INTERVALS)
        since = until - math.floor(lookback / interval) * interval
        arrivals = list(await self._history(since, until))
        seeded = self.learn_arrivals(arrivals, since, until)
        log.info("surge detectors learned %d past arrivals (%d signals)", len(arrivals), seeded)

    async def run(self) -> None:
        try:
            await self.learn_history()
        except Exception:
            log.exception("the arrivals' history could not be read; the detectors start cold")
        while True:
            end = self.next_end(self._clock())
            await asyncio.sleep(max(0.0, end - self._clock()))
            try:
                await self.tick(end)
            except Exception:
                log.exception("surge watch interval ending %s failed", end)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="surge-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
