"""How a journey's record reads as an end: each kind of end gets its outcome, a long path is
capped and flagged, and a journey whose start is unknown has no duration."""

from __future__ import annotations

from routing.domain.journey_end import MAX_PATH, journey_end


def test_each_kind_of_end_gets_its_outcome() -> None:
    queued = journey_end(["a", "q"], "q", {"kind": "queue", "queue": "billing"}, 100.0, 130.0)
    assert (queued.outcome, queued.queue, queued.duration_seconds) == ("handed_off", "billing", 30.0)
    left = journey_end(["a", "bye"], "bye", {"kind": "end", "outcome": "abandoned"}, 100.0, 101.0)
    assert (left.outcome, left.detail) == ("abandoned", "abandoned")
    timed = journey_end(["a"], "a", {"kind": "end", "outcome": "timeout"}, 100.0, 101.0)
    assert timed.outcome == "timed_out"
    own = journey_end(["a", "stop"], "stop", {"kind": "end", "outcome": "unpaid"}, 100.0, 101.0)
    assert (own.outcome, own.detail) == ("completed", "unpaid")
    broken = journey_end(["a"], "a", {"kind": "error", "reason": "step limit reached"}, 100.0, 101.0)
    assert (broken.outcome, broken.detail) == ("failed", "step limit reached")
    stuck = journey_end(["a", "t"], "t", {"kind": "flow", "flow": "sales"}, 100.0, 101.0)
    assert stuck.outcome == "failed" and "sales" in stuck.detail


def test_a_long_path_is_capped_and_flagged_and_an_unknown_start_has_no_duration() -> None:
    path = [f"n{i}" for i in range(MAX_PATH + 5)]
    end = journey_end(path, "n68", {"kind": "end", "outcome": "completed"}, 0.0, 500.0)
    assert end.path == tuple(path[:MAX_PATH]) and end.truncated
    assert end.end_node == "n68" and end.duration_seconds == 0.0
    short = journey_end(path[:MAX_PATH], "n63", {"kind": "end"}, 10.0, 5.0)
    assert not short.truncated and short.duration_seconds == 0.0 and short.outcome == "completed"
