"""A prediction a supervisor can trust: measured handle time, eligible staff, a 15-minute window."""

import pytest

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.handle_time import DEFAULT_HANDLE_SECONDS, estimate
from routing.domain.language_rule import language_rule
from routing.domain.prediction import ContactSample, StaffCandidate, can_staff, predict
from routing.domain.queueing import BullseyeRing, QueueSpec

NOW = 100_000.0
QUEUE = QueueSpec("acme", "billing", brand="retail", required_skills=frozenset({"billing"}))


def staff(agent_id: str, **kw: object) -> StaffCandidate:
    state = kw.pop("state", AgentState.AVAILABLE)
    profile = AgentProfile(
        agent_id,
        skills=kw.pop("skills", {"billing": 3}),  # type: ignore[arg-type]
        languages=frozenset(kw.pop("languages", {"en"})),  # type: ignore[arg-type]
        brands=frozenset(kw.pop("brands", {"retail"})),  # type: ignore[arg-type]
        capacity=kw.pop("capacity", {Channel.VOICE: 1, Channel.WEBCHAT: 2}),  # type: ignore[arg-type]
    )
    return StaffCandidate(profile, state)  # type: ignore[arg-type]


def test_handle_time_starts_at_the_channel_default_and_follows_what_is_measured() -> None:
    assert estimate([], Channel.VOICE).seconds == DEFAULT_HANDLE_SECONDS[Channel.VOICE]
    assert not estimate([], Channel.VOICE).measured
    measured = estimate([120.0] * 30, Channel.VOICE)
    assert measured.samples == 30 and measured.seconds == pytest.approx(120.0, abs=1.0)
    # Exponential smoothing: one long call moves it, but not all the way.
    spiked = estimate([120.0] * 30 + [1200.0], Channel.VOICE)
    assert 300 < spiked.seconds < 400


def test_only_agents_who_can_take_the_queues_contacts_are_staffed() -> None:
    candidates = [
        staff("ok"),
        staff("busy", state=AgentState.BUSY),
        staff("away", state=AgentState.BREAK),
        staff("other-brand", brands={"bank"}),
        staff("no-skill", skills={"sales": 5}),
        staff("no-voice", capacity={Channel.WEBCHAT: 3}),
        staff("german", languages={"de"}),
    ]
    counted = {
        c.profile.agent_id for c in candidates if can_staff(c, QUEUE, Channel.VOICE, frozenset({"en"}))
    }
    assert counted == {"ok", "busy"}
    # A tenant that shares its agents across brands: the other brand's agent counts too.
    shared = QueueSpec(
        "acme", "billing", brand="retail", required_skills=frozenset({"billing"}), all_brands=True
    )
    assert can_staff(candidates[3], shared, Channel.VOICE, frozenset())
    # A queue that only prefers the language counts the German speaker.
    preferring = QueueSpec(
        "acme",
        "billing",
        brand="retail",
        required_skills=frozenset({"billing"}),
        language=language_rule("preferred"),
    )
    assert can_staff(candidates[6], preferring, Channel.VOICE, frozenset({"en"}))
    # Skills count at the widest ring's level.
    ringed = QueueSpec(
        "acme",
        "billing",
        required_skills=frozenset({"billing"}),
        rings=(BullseyeRing(0, 5), BullseyeRing(30, 3)),
    )
    assert can_staff(candidates[0], ringed, None, frozenset())


def burst(start: float, count: int, *, handle: float = 0.0, abandoned: bool = False) -> list[ContactSample]:
    samples = []
    for i in range(count):
        enqueued = start + i
        if abandoned:
            samples.append(ContactSample(enqueued, closed_at=enqueued + 60, abandoned=True))
        elif handle:
            samples.append(
                ContactSample(enqueued, answered_at=enqueued + 10, closed_at=enqueued + 10 + handle)
            )
        else:
            samples.append(ContactSample(enqueued))
    return samples


def test_a_burst_stops_weighing_on_the_prediction_fifteen_minutes_after_it_drained() -> None:
    agents = [staff(f"a{i}") for i in range(3)]
    old_burst = burst(NOW - 1200, 60, handle=100.0)  # 20 minutes ago, all handled
    now_quiet = predict(QUEUE, old_burst, agents, NOW, 20.0, channel=Channel.VOICE)
    assert now_quiet.arrivals_per_hour == 0
    assert now_quiet.erlang_c.service_level == 1.0
    during = predict(QUEUE, old_burst, agents, NOW - 1200 + 100, 20.0, channel=Channel.VOICE)
    assert during.arrivals_per_hour > 100
    assert during.erlang_c.service_level < 0.5
    # The handle time measured on the burst stays: it is the queue's, not the window's.
    assert now_quiet.handle.seconds == pytest.approx(100.0, abs=2.0)


def test_contacts_that_left_are_excluded_and_abandonment_sets_the_patience() -> None:
    agents = [staff("a0")]
    handed_away = [ContactSample(NOW - 100 + i, left=True) for i in range(30)]
    assert predict(QUEUE, handed_away, agents, NOW, 20.0).arrivals_per_hour == 0
    gave_up = burst(NOW - 600, 20, abandoned=True)
    prediction = predict(QUEUE, gave_up, agents, NOW, 20.0, channel=Channel.VOICE)
    assert prediction.abandoned == 20
    # 20 customers each left after 60 s: the patience estimate is near 60 s, not the default.
    assert prediction.patience_seconds == pytest.approx((20 * 60 + 180) / 21)
    # Erlang C sees no work that stayed; Erlang A sees the offered load and its abandonment.
    assert prediction.erlang_c.traffic_erlangs == 0
    assert prediction.erlang_a.probability_of_abandoning > 0


def test_unstaffed_queue_predicts_nothing_answered() -> None:
    prediction = predict(QUEUE, burst(NOW - 60, 5), [staff("x", brands={"bank"})], NOW, 20.0)
    assert prediction.staffed_agents == 0
    assert prediction.erlang_c.service_level == 0.0
    assert prediction.erlang_a.service_level == 0.0
