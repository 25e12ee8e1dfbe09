"""`depthOver: N` moves only the excess, and hysteresis keeps contacts from bouncing."""

import math

import pytest
from pydantic import ValidationError

from ccmesh.configplane.models import RoutingOverflowRule
from routing.domain.agents import AcdInputError
from routing.domain.overflow import (
    OverflowMark,
    OverflowRule,
    QueueStats,
    Waiting,
    plan_overflow,
    return_threshold,
)

NOW = 1000.0
TO_B = OverflowRule("a-to-b", "a", "b", depth_over=2)
TO_A = OverflowRule("b-to-a", "b", "a", depth_over=2)


def not_asked() -> float:
    raise AssertionError("depth and wait rules never need the prediction")


def stats(depth: int) -> QueueStats:
    return QueueStats(depth, not_asked)


def waiting(n: int, mark: OverflowMark = OverflowMark()) -> list[Waiting]:
    # In service order: c0 is served first, c{n-1} (the newest) last.
    return [Waiting(f"c{i}", waited_seconds=float(n - i), mark=mark) for i in range(n)]


def test_depth_over_two_moves_the_eight_beyond_the_first_two_of_ten() -> None:
    plan = plan_overflow([TO_B], waiting(10), stats(10), NOW, {})
    assert sorted(plan, key=lambda c: int(c[1:])) == [f"c{i}" for i in range(2, 10)]
    assert "beyond the first 2" in plan["c9"][1]


def test_nothing_moves_at_or_below_the_depth() -> None:
    assert plan_overflow([TO_B], waiting(2), stats(2), NOW, {}) == {}


def test_a_moved_contact_is_not_moved_again_within_the_cool_down() -> None:
    mark = OverflowMark(from_queue="a", at=NOW - 10, return_below=1)
    onward = OverflowRule("b-to-c", "b", "c", depth_over=0, cooldown_seconds=60)
    assert plan_overflow([onward], waiting(3, mark), stats(3), NOW, {}) == {}
    assert len(plan_overflow([onward], waiting(3, mark), stats(3), NOW + 60, {})) == 3


def test_a_contact_is_not_moved_back_until_its_old_queue_drains_below_the_margin() -> None:
    # Moved out of a by a depth rule of 10 (margin 2): back only once a has fewer than 8.
    mark = OverflowMark(
        from_queue="a",
        at=NOW - 600,
        return_below=return_threshold(OverflowRule("a-to-b", "a", "b", depth_over=10)),
    )
    assert mark.return_below == 8
    back = OverflowRule("b-to-a", "b", "a", depth_over=0)
    assert plan_overflow([back], waiting(4, mark), stats(4), NOW, {"a": 9}) == {}
    assert plan_overflow([back], waiting(4, mark), stats(4), NOW, {"a": 8}) == {}
    assert len(plan_overflow([back], waiting(4, mark), stats(4), NOW, {"a": 7})) == 4


def test_two_queues_overflowing_into_each_other_settle_instead_of_bouncing() -> None:
    """Simulate passes: a has 10, b has 0, each overflows to the other above 2."""
    queues: dict[str, list[tuple[str, OverflowMark]]] = {
        "a": [(f"c{i}", OverflowMark()) for i in range(10)],
        "b": [],
    }
    rules = {"a": [TO_B], "b": [TO_A]}
    moves = 0
    for tick in range(50):
        now = NOW + tick * 5
        for name in ("a", "b"):
            contacts = queues[name]
            depths = {q: len(c) for q, c in queues.items()}
            plan = plan_overflow(
                rules[name],
                [Waiting(cid, 0.0, mark) for cid, mark in contacts],
                stats(len(contacts)),
                now,
                depths,
            )
            for cid, (rule, _) in plan.items():
                mark = next(m for c, m in contacts if c == cid)
                contacts.remove((cid, mark))
                queues[rule.target_queue].append((cid, OverflowMark(name, now, return_threshold(rule))))
                moves += 1
    # The 8 in excess went to b; b's excess over 2 (6) may not go back while a is still at 2.
    assert moves == 8
    assert len(queues["a"]) == 2 and len(queues["b"]) == 8


def test_widen_is_not_held_by_the_cool_down() -> None:
    mark = OverflowMark(from_queue="a", at=NOW - 1)
    widen = OverflowRule("share", "b", "c", action="widen", wait_seconds_over=0)
    assert set(plan_overflow([widen], waiting(2, mark), stats(2), NOW, {})) == {"c0", "c1"}


def test_wait_rules_fire_per_contact_and_first_rule_wins() -> None:
    slow = OverflowRule("slow", "a", "b", wait_seconds_over=5)
    deep = OverflowRule("deep", "a", "c", depth_over=8)
    plan = plan_overflow([slow, deep], waiting(10), stats(10), NOW, {})
    assert {c: r.name for c, (r, _) in plan.items()} == {
        **{f"c{i}": "slow" for i in range(5)},  # waited 10..6 s
        "c8": "deep",
        "c9": "deep",
    }
    assert return_threshold(slow) == math.inf


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"hysteresis_margin": -1}, "overflow[r].hysteresis_margin"),
        ({"cooldown_seconds": -5}, "overflow[r].cooldown_seconds"),
    ],
)
def test_bad_hysteresis_settings_name_the_field(kw: dict, field: str) -> None:
    with pytest.raises(AcdInputError) as error:
        OverflowRule("r", "a", "b", depth_over=2, **kw)
    assert error.value.field == field


def test_the_contact_center_document_refuses_bad_hysteresis_naming_the_field() -> None:
    base = {"name": "r", "tenant": "acme", "queue": "a", "targetQueue": "b", "depthOver": 2}
    rule = RoutingOverflowRule.model_validate({**base, "hysteresisMargin": 1, "cooldownSeconds": 30})
    assert (rule.hysteresis_margin, rule.cooldown_seconds) == (1, 30)
    for field in ("hysteresisMargin", "cooldownSeconds"):
        with pytest.raises(ValidationError) as error:
            RoutingOverflowRule.model_validate({**base, field: -1})
        assert error.value.errors()[0]["loc"] == (field,)
