"""The chaos tier's audit and the fault bench's figures, on made-up stories: each problem is
found where it is, and a clean story passes."""

from __future__ import annotations

import math

from bench.platform.agents import OfferLog
from bench.platform.fault_audit import StreamStory, audit, tell, told, undelivered
from bench.platform.leader_kill import back_after, longest_gap, p99_recovery, saturation_rate


def offered(log: OfferLog, contact: str, agent: str, reservation: str, at: float = 1.0) -> None:
    log.offered(contact, at, agent, reservation)


def clean_story(reservation: str, agent: str) -> StreamStory:
    return StreamStory(offered={reservation: agent}, accepted=[reservation], closed=1)


def test_a_contact_offered_accepted_and_closed_once_passes() -> None:
    log = OfferLog()
    offered(log, "c1", "a1", "r1")
    log.accepts["c1"] = ["a1"]
    found = audit(["c1"], log, {"c1": clean_story("r1", "a1")})
    assert found.ok, found.counts()


def test_an_offer_that_timed_out_may_be_followed_by_another() -> None:
    log = OfferLog()
    offered(log, "c1", "a1", "r1")
    offered(log, "c1", "a2", "r2")
    log.accepts["c1"] = ["a2"]
    story = StreamStory(offered={"r1": "a1", "r2": "a2"}, accepted=["r2"], ended={"r1"}, closed=1)
    assert audit(["c1"], log, {"c1": story}).ok


def test_a_story_is_told_once_closed_with_every_offer_the_agents_saw() -> None:
    log = OfferLog()
    offered(log, "c1", "a1", "r1")
    log.accepts["c1"] = ["a1"]
    # Closed on the stream, the offer still in an outbox: the settling waits for it.
    assert not told("c1", log, StreamStory(accepted=["r1"], closed=1))
    assert not told("c1", log, StreamStory(offered={"r1": "a1"}, accepted=["r1"]))
    assert told("c1", log, clean_story("r1", "a1"))


def test_each_problem_is_named() -> None:
    log = OfferLog()
    # c1 never offered; c2 offered, never accepted; c3 accepted, never closed;
    # c4 offered twice at once; c5 accepted twice; c6 offered with no event on the stream.
    for contact, agent, reservation in [("c2", "a1", "r2"), ("c3", "a1", "r3"), ("c5", "a1", "r5")]:
        offered(log, contact, agent, reservation)
    offered(log, "c4", "a1", "r4a")
    offered(log, "c4", "a2", "r4b")
    offered(log, "c6", "a1", "r6")
    log.accepts.update({"c3": ["a1"], "c4": ["a2"], "c5": ["a1", "a2"], "c6": ["a1"]})
    log.over_capacity.append("a1 held 4 > 3")
    stories = {
        "c1": StreamStory(),
        "c2": StreamStory(offered={"r2": "a1"}),
        "c3": StreamStory(offered={"r3": "a1"}, accepted=["r3"]),
        "c4": StreamStory(offered={"r4a": "a1", "r4b": "a2"}, accepted=["r4b"], closed=1),
        "c5": StreamStory(offered={"r5": "a1"}, accepted=["r5", "r5"], closed=1),
        "c6": StreamStory(accepted=["r6"], closed=1),
    }
    found = audit(list(stories), log, stories)
    assert (found.lost, found.never_accepted, found.stuck) == (["c1"], ["c2"], ["c3"])
    assert (found.offered_twice, found.accepted_twice, found.unannounced) == (["c4"], ["c5"], ["c6"])
    assert found.over_capacity == ["a1 held 4 > 3"]
    assert not found.ok
    assert "stuck 1" in found.explain(log, stories)


def test_undelivered_webhooks_are_the_stored_events_never_received() -> None:
    story = StreamStory(
        event_ids={"contact_created": ["e1"], "contact_closed": ["e2"], "contact_offered": ["e3"]}
    )
    assert undelivered(["c1"], {"c1": story}, {"e1"}) == ["e2"]


def test_longest_gap_counts_the_edges_of_the_window() -> None:
    assert longest_gap([1.0, 2.0, 2.5], 0.0, 10.0) == 7.5
    assert longest_gap([], 0.0, 4.0) == 4.0


def test_the_gap_ends_with_the_first_answer_after_it_counted_from_the_kill() -> None:
    # Answers until the kill at 5.0 (one lands just after it), none for 6 s, then again.
    times = [4.0, 4.8, 5.05, 11.05, 11.5]
    assert back_after(times, 4.0, 12.0, 5.0) == 6.05


def test_p99_recovery_is_the_end_of_the_last_slow_window() -> None:
    kill = 100.0
    sent = {f"c{i}": kill + i * 0.5 for i in range(20)}  # two contacts a second for 10 s
    # Slow (2 s) for the first 3 s after the kill, then 50 ms.
    offered = {c: s + (2.0 if s < kill + 3 else 0.05) for c, s in sent.items()}
    recovery, windows = p99_recovery(sent, offered, kill, kill + 10)
    assert recovery == 3.0
    assert len(windows) == 10
    # A contact never offered is infinitely late: still slow at the end, never recovered.
    del offered["c19"]
    assert math.isnan(p99_recovery(sent, offered, kill, kill + 10)[0])


def test_p99_windows_before_the_kill_are_shown_but_do_not_count() -> None:
    kill = 100.0
    sent = {f"c{i}": 95.0 + i * 0.5 for i in range(30)}  # from 5 s before the kill to 10 s after
    offered = {c: s + (2.0 if s < kill else 0.05) for c, s in sent.items()}  # slow only before
    recovery, windows = p99_recovery(sent, offered, kill, kill + 10, since=95.0)
    assert recovery == 0.0
    assert [w["from_kill_s"] for w in windows][:2] == [-5.0, -4.0]


def test_recovery_is_measured_against_the_threshold_given() -> None:
    kill = 100.0
    sent = {f"c{i}": kill + i * 0.5 for i in range(20)}
    # 800 ms before and long after the kill (a busy machine), 3 s during the first 2 s.
    offered = {c: s + (3.0 if s < kill + 2 else 0.8) for c, s in sent.items()}
    assert math.isnan(p99_recovery(sent, offered, kill, kill + 10)[0])
    recovery, _ = p99_recovery(sent, offered, kill, kill + 10, threshold_ms=800.0)
    assert recovery == 2.0


def test_the_saturation_rate_is_the_last_probe_passed_before_the_first_failure() -> None:
    def probe(rate: int, share: float, p99: float) -> dict[str, float]:
        return {"rate": rate, "offered_share": share, "offer_p99_ms": p99}

    assert saturation_rate([probe(4, 1.0, 90), probe(8, 1.0, 300), probe(12, 1.0, 900)]) == 8.0
    # Not every contact offered: failed, whatever the p99 of those that were; later passes don't count.
    assert saturation_rate([probe(4, 1.0, 90), probe(8, 0.98, 100), probe(12, 1.0, 100)]) == 4.0
    assert saturation_rate([probe(4, 1.0, math.inf)]) == 0.0
    assert saturation_rate([]) == 0.0


def test_a_lost_contact_is_told_with_its_events_on_the_stream() -> None:
    # Queued but never offered: where the chain broke is routing's side.
    story = StreamStory(kinds=["contact_created", "message_received", "contact_queued"])
    found = audit(["c1"], OfferLog(), {"c1": story})
    assert found.lost == ["c1"]
    assert "events ['contact_created', 'message_received', 'contact_queued']" in tell(
        "c1", OfferLog(), {"c1": story}
    )
