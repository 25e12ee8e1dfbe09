"""The platform bench's own arguments: a bad one is named, not run; the replay's CPU readers and pairs."""

from __future__ import annotations

import os
import time

import pytest

from bench.platform.__main__ import parse
from bench.platform.replay import paired_ratio, run_seconds


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--replay-only", "--replay-batch", "0"], "--replay-batch: '0': must be above 0"),
        (["--replay-only", "--replay-batch", "many"], "--replay-batch: 'many': a whole number"),
        (["--replay-only", "--replay", "10k,1m"], "--replay: '10k,1m': whole numbers of contacts"),
        (["--replay-only", "--replay", "10000,-1"], "--replay: '10000,-1': every checkpoint must be above 0"),
        (["--rates", "50,0"], "--rates: '50,0': every rate must be above 0"),
    ],
)
def test_a_bad_argument_is_named(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_good_arguments_are_taken() -> None:
    options = parse(["--replay-only", "--replay", "10000,1000000", "--replay-batch", "500"])
    assert (options.replay, options.replay_batch) == ([10000, 1000000], 500)


def test_the_run_time_of_a_process_counts_its_work_not_its_waits() -> None:
    before = run_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    busy = run_seconds(os.getpid()) - before
    time.sleep(0.05)
    waited = run_seconds(os.getpid()) - before - busy
    assert busy >= 0.04
    assert waited < 0.02
    assert run_seconds(2**22 + 1) == 0.0  # no such process


def test_pairs_measured_together_compare_by_the_median_of_their_ratios() -> None:
    # A slow spell of the host slows both sides of a pair: it moves no ratio.
    assert paired_ratio([(1.0, 1.0), (2.0, 2.0), (1.5, 1.5)]) == 1.0
    # One pair that met a burst on one side only does not move the median.
    assert paired_ratio([(1.1, 1.0), (2.2, 2.0), (9.0, 1.0)]) == pytest.approx(1.1)
    # A baseline that measured nothing is left out, not divided by.
    assert paired_ratio([(1.2, 1.0), (1.0, 0.0)]) == pytest.approx(1.2)
