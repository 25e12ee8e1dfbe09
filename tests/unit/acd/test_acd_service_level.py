"""The measured service level: who counts, who does not yet, and targets per queue and channel."""

import pytest

from ccmesh.channels import Channel
from routing.adapters.acd_codec import queue_from_bytes, queue_to_bytes
from routing.domain.agents import AcdInputError
from routing.domain.queueing import QueueSpec, ServiceLevelTarget, service_level_target
from routing.domain.service_level import Sample, measure

NOW = 10_000.0


def test_answered_in_time_late_and_long_waiting_count_fresh_waiting_does_not() -> None:
    samples = [
        Sample(NOW - 100, NOW - 95),  # answered after 5 s: in time
        Sample(NOW - 100, NOW - 80),  # answered after exactly 20 s: in time
        Sample(NOW - 100, NOW - 50),  # answered after 50 s: late
        Sample(NOW - 30),  # waiting 30 s: already missed the target
        Sample(NOW - 10),  # waiting 10 s: no outcome yet, not counted
        Sample(NOW - 7200, NOW - 7199),  # before the window
    ]
    measured = measure(samples, 20.0, NOW, 3600.0)
    assert (measured.counted, measured.answered_in_time) == (4, 2)
    assert measured.level == 0.5
    assert measure([Sample(NOW - 10)], 20.0, NOW, 3600.0).level is None
    assert measure(samples, 20.0, NOW, 7300.0).counted == 5


def test_targets_per_channel_fall_back_to_the_queue_target() -> None:
    queue = QueueSpec(
        "acme",
        "support",
        service_level={Channel.VOICE: ServiceLevelTarget(0.9, 15.0)},
        default_service_level=ServiceLevelTarget(0.7, 60.0),
    )
    assert queue.target_for(Channel.VOICE) == ServiceLevelTarget(0.9, 15.0)
    assert queue.target_for(Channel.WEBCHAT) == ServiceLevelTarget(0.7, 60.0)
    assert queue.target_for(None) == ServiceLevelTarget(0.7, 60.0)
    assert queue_from_bytes(queue_to_bytes(queue)) == queue
    assert QueueSpec("acme", "plain").target_for(Channel.WEBCHAT) == ServiceLevelTarget(0.8, 20.0)


@pytest.mark.parametrize(
    ("fraction", "seconds", "field"),
    [(0.0, 20.0, "q.answered_fraction"), (1.2, 20.0, "q.answered_fraction"), (0.8, 0.0, "q.within_seconds")],
)
def test_a_bad_target_names_the_field(fraction: float, seconds: float, field: str) -> None:
    with pytest.raises(AcdInputError) as caught:
        service_level_target(fraction, seconds, "q")
    assert caught.value.field == field
