"""Routing's live surge feed: each interval's queue signals from the working set, through the
detectors; the rising edge published once as `SurgeDetected`, every assessment to the sink."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from ccmesh.channels import Channel
from ccmesh.config import ConfigError, load_config
from ccsurge.assessment import Assessment, SurgeKey, SurgeMetric
from ccsurge.history import PastArrival
from ccsurge.simulate import MONDAY, WEEK_SECONDS, traffic
from contactcenter.common.v1 import common_pb2
from routing.adapters.surge_event_codec import surge_detected
from routing.config import RoutingConfig
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.surge_watch import Counted, SurgeWatch, SurgeWatchSettings, queue_signals
from tests.unit.fakes.routing_fakes import FakeAcdView

TENANT = "acme"
START = 1_793_577_600.0 + 10 * 3600  # a Monday, 10:00 UTC


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[Sequence[Assessment]] = []

    async def take_assessments(self, assessments: Sequence[Assessment]) -> None:
        self.batches.append(assessments)


def contact(number: int, at: float, channel: Channel = Channel.SMS, queue: str = "support") -> WaitingContact:
    return WaitingContact(f"c{number}", queue, channel, 50, at)


def test_signals_count_arrivals_waiting_longest_wait_abandons_and_service_level() -> None:
    since, now = START, START + 60
    records = [
        ContactRecord(contact(1, since + 10)),  # waiting 50 s
        ContactRecord(contact(2, since + 40, Channel.WEBCHAT)),  # waiting 20 s
        # Answered 5 s after arriving, earlier: in the service level, not an arrival of this interval.
        ContactRecord(contact(3, since - 100), ContactStatus.ASSIGNED, answered_at=since - 95),
        # Left unanswered within the interval: abandoned.
        ContactRecord(contact(4, since - 50), ContactStatus.CLOSED, closed_at=since + 30),
        # Turned away by a closed queue: not an abandon.
        ContactRecord(
            contact(5, since + 5), ContactStatus.CLOSED, closed_at=since + 5, closed_action="message"
        ),
    ]
    counted = Counted(grace_seconds=60)
    queue = QueueSpec(TENANT, "support")
    signals = queue_signals("eu", TENANT, queue, "support", records, now, 900, counted)
    whole = signals[SurgeKey("eu", TENANT, "support")].values()
    assert whole[SurgeMetric.ARRIVALS] == 3
    assert whole[SurgeMetric.WAITING] == 2
    assert whole[SurgeMetric.LONGEST_WAIT] == 50
    assert whole[SurgeMetric.ABANDONED] == 1
    # As the queue's measured level counts (`acd_stats.service_samples`): c3 in time; c1, c4
    # and c5 past 20 s unanswered; c2 has no outcome yet: 1 of 4.
    assert whole[SurgeMetric.SERVICE_LEVEL] == 1 / 4
    webchat = signals[SurgeKey("eu", TENANT, "support", "webchat")].values()
    assert (webchat[SurgeMetric.ARRIVALS], webchat[SurgeMetric.WAITING]) == (1, 1)
    assert math.isnan(webchat[SurgeMetric.SERVICE_LEVEL])  # nothing had an outcome yet
    # The next interval sees the same records: nothing arrives or is abandoned twice.
    again = queue_signals("eu", TENANT, queue, "support", records, now + 60, 900, counted)
    assert again[SurgeKey("eu", TENANT, "support")].values()[SurgeMetric.ARRIVALS] == 0
    assert again[SurgeKey("eu", TENANT, "support")].values()[SurgeMetric.ABANDONED] == 0


def test_a_record_the_working_set_shows_late_still_counts_once() -> None:
    counted = Counted(grace_seconds=30)
    late = [ContactRecord(contact(1, START - 2))]  # arrived before the last interval's end
    signals = queue_signals("eu", TENANT, None, "support", late, START + 1, 900, counted)
    assert signals[SurgeKey("eu", TENANT, "support")].arrivals == 1
    stale = [ContactRecord(contact(2, START - 300))]  # before the watch started: not an arrival now
    assert (
        queue_signals("eu", TENANT, None, "support", stale, START + 1, 900, counted)[
            SurgeKey("eu", TENANT, "support")
        ].arrivals
        == 0
    )


async def test_a_burst_is_published_once_on_its_rising_edge_and_every_assessment_reaches_the_sink() -> None:
    view = FakeAcdView()
    view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
    published: list[tuple[Assessment, float]] = []

    async def publish(assessment: Assessment, interval: float) -> None:
        published.append((assessment, interval))

    sink = RecordingSink()
    watch = SurgeWatch(view, "eu", publish, sink=sink, settings=SurgeWatchSettings(interval_seconds=60))
    number = 0
    end = START
    # Ten quiet minutes: two contacts a minute, answered at once and completed.
    for _ in range(10):
        for _ in range(2):
            number += 1
            record = ContactRecord(
                contact(number, end + 10), ContactStatus.CLOSED, answered_at=end + 12, closed_at=end + 50
            )
            view.put_contact(TENANT, record.contact.contact_id, record)
        end += 60
        await watch.tick(end)
    assert published == []
    # Keys: the tenant, the queue, the queue's sms channel; five metrics each.
    assert [len(batch) for batch in sink.batches] == [15] * 10
    # A burst: forty contacts in one minute, all still waiting.
    for _ in range(2):
        for _ in range(40):
            number += 1
            view.put_contact(TENANT, f"c{number}", ContactRecord(contact(number, end + 20)))
        end += 60
        await watch.tick(end)
    rising = {(a.key, a.metric) for a, _ in published}
    queue = SurgeKey("eu", TENANT, "support")
    assert (queue, SurgeMetric.ARRIVALS) in rising
    assert (queue, SurgeMetric.WAITING) in rising
    assert (SurgeKey("eu", TENANT), SurgeMetric.ARRIVALS) in rising
    assert len(rising) == len(published)  # the second burst minute published nothing again
    arrivals = next(a for a, _ in published if (a.key, a.metric) == (queue, SurgeMetric.ARRIVALS))
    assert (arrivals.value, arrivals.direction, arrivals.at) == (40.0, 1, end - 60)
    assert arrivals.baseline == pytest.approx(2.0)
    assert all(interval == 60 for _, interval in published)
    last = {(a.key, a.metric): a for a in sink.batches[-1]}
    assert last[(queue, SurgeMetric.WAITING)].alert and last[(queue, SurgeMetric.WAITING)].value == 80


async def test_a_failing_sink_does_not_stop_the_watch() -> None:
    view = FakeAcdView()
    view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")

    class Broken:
        async def take_assessments(self, assessments: Sequence[Assessment]) -> None:
            raise RuntimeError("engine down")

    async def publish(assessment: Assessment, interval: float) -> None:
        return None

    watch = SurgeWatch(view, "eu", publish, sink=Broken())
    assert len(await watch.tick(START + 60)) == 10  # the tenant and the queue, five metrics each
    assert len(await watch.tick(START + 120)) == 10


def test_intervals_end_on_the_wall_clock_so_instances_judge_the_same_ones() -> None:
    watch = SurgeWatch(FakeAcdView(), "eu", publish=None, settings=SurgeWatchSettings(interval_seconds=60))  # type: ignore[arg-type]
    assert watch.next_end(START + 1) == START + 60
    assert watch.next_end(START + 60) == START + 120


def test_the_event_carries_the_evidence_and_an_id_fixed_by_key_metric_and_interval() -> None:
    assessment = Assessment(
        SurgeKey("eu", TENANT, "billing.vip", "sms"), SurgeMetric.ARRIVALS, START, 40.0, 2.0, 9.8, True, 1
    )
    event = surge_detected(assessment, 60.0)
    detected = event.surge_detected
    assert (detected.queue, detected.channel, detected.metric) == (
        "billing.vip",
        common_pb2.CHANNEL_KIND_SMS,
        "arrivals",
    )
    assert (detected.value, detected.baseline, detected.score, detected.direction) == (40.0, 2.0, 9.8, 1)
    assert detected.interval_end.seconds == int(START) and detected.interval_seconds == 60
    assert (event.tenant.tenant_id, event.region) == (TENANT, "eu")
    assert event.contact_id == "surge-billing_vip"  # a subject token: no dots
    assert surge_detected(assessment, 60.0).event_id == event.event_id
    tenant_wide = surge_detected(
        Assessment(SurgeKey("eu", TENANT), SurgeMetric.WAITING, START, 9, 1, 7, True, 1), 60
    )
    assert tenant_wide.surge_detected.channel == common_pb2.CHANNEL_KIND_UNSPECIFIED
    assert tenant_wide.event_id != event.event_id


def test_the_regions_past_arrivals_give_the_detectors_their_seasonal_baselines_at_once() -> None:
    ends, counts = traffic(MONDAY, 2, seed=21)
    arrivals = [
        PastArrival(TENANT, "support", "sms", end - 30.0)
        for end, count in zip(ends.tolist(), counts.tolist(), strict=True)
        for _ in range(int(count))
    ]
    watch = SurgeWatch(FakeAcdView(), "eu", publish=None)  # type: ignore[arg-type]
    assert watch.learn_arrivals(arrivals, MONDAY, MONDAY + 2 * WEEK_SECONDS) == 3
    queue = watch.detector_of(SurgeKey("eu", TENANT, "support"), SurgeMetric.ARRIVALS)
    assert queue is not None
    # The next Wednesday at 11:00, a busy slot: judged against its weekday and quarter hour.
    at = MONDAY + 2 * WEEK_SECONDS + 2 * 86_400 + 11 * 3600 + 60
    assessment = queue.observe(at, 20.0)
    assert queue.baseline.seasonal
    assert 15 < assessment.baseline < 25 and not assessment.alert
    assert watch.detector_of(SurgeKey("eu", TENANT, "billing"), SurgeMetric.ARRIVALS) is None


async def test_a_detection_that_could_not_be_published_goes_out_the_next_interval() -> None:
    view = FakeAcdView()
    view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
    published: list[Assessment] = []
    stream_away = True

    async def publish(assessment: Assessment, interval: float) -> None:
        if stream_away:
            raise ConnectionError("no responders")
        published.append(assessment)

    watch = SurgeWatch(view, "eu", publish, settings=SurgeWatchSettings(interval_seconds=60))
    end = START
    for _ in range(6):
        end += 60
        await watch.tick(end)
    for number in range(40):
        view.put_contact(TENANT, f"c{number}", ContactRecord(contact(number, end + 20)))
    end += 60
    await watch.tick(end)  # detected, not published
    assert published == []
    stream_away = False
    await watch.tick(end + 60)
    rose = {(a.key, a.metric, a.at) for a in published}
    assert (SurgeKey("eu", TENANT, "support"), SurgeMetric.WAITING, end) in rose
    assert len(rose) == len(published)


SECRET = {"CC_AUTH_SECRET": "a-test-secret-of-enough-length"}


def test_how_long_calm_clears_an_alert_is_configured_and_reaches_every_detector() -> None:
    config = load_config(RoutingConfig, environ={**SECRET, "CC_SURGE_CLEAR_DURATION_SECONDS": "2.5"})
    assert config.surge_clear_duration_seconds == 2.5
    assert load_config(RoutingConfig, environ=SECRET).surge_clear_duration_seconds == 120.0
    view = FakeAcdView()
    view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
    settings = SurgeWatchSettings(interval_seconds=1, clear_duration_seconds=2.5, min_duration_seconds=1)
    watch = SurgeWatch(view, "eu", publish=None, settings=settings)  # type: ignore[arg-type]
    watch.observe(START + 1)
    for metric in SurgeMetric:
        detector = watch.detector_of(SurgeKey("eu", TENANT, "support"), metric)
        assert detector is not None
        assert detector.settings.clear_duration_seconds == 2.5
        assert detector.settings.min_duration_seconds == 1


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_clear_duration_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(RoutingConfig, environ={**SECRET, "CC_SURGE_CLEAR_DURATION_SECONDS": value})
    assert "CC_SURGE_CLEAR_DURATION_SECONDS" in str(caught.value)
    assert repr(value) in str(caught.value)
