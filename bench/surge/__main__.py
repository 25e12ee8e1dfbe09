"""`make bench-surge`: the surge detector (`ccsurge`) on generated traffic, on one core.

- cost: observations per CPU-second of one detector in steady state (seasonal baselines
  learned), as `step` (the detector alone) and as `observe` (building each `Assessment`, as the
  live watch does); measured with the process's CPU time, so other load on the machine does
  not count against it (the load average is reported beside it);
- detection: for several seeds, three weeks of history (the detector starts cold), then a
  fourth week replayed per scenario: a normal week (false alerts per week), a 10x burst of 20
  minutes at several times of the week (delay from the burst's start to the alert, and from
  its end to the clearing), a slow ramp to 2x over an hour and a drop to zero (delays);
- a cold start: a detector with no history at all, a day of traffic, then a burst (delays);
- end to end (`bench.surge.e2e`): a burst against three agents on a region as `ccctl up` starts
  it, with the surge guard and without; the share answered within the target for each, the
  ratio of the two as the result (`--no-e2e` skips it for a quick run).

Goals: >= 100,000 observations per CPU-second (as `observe`, the Assessment included); burst
detection within 2 simulated minutes (the worst case over all bursts); clearing within 10
minutes of the burst's end; zero false alerts per normal week; end to end, more answered
within the target with the guard than without (ratio above 1) and nothing lost.
`CC_BENCH_SEEDS` sets how many seeds (default 5).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import time
from typing import Any

import numpy as np

from bench.report import Goal, print_report
from bench.surge.e2e import SurgeRunSettings, surge_comparison
from ccsurge.assessment import SurgeKey, SurgeMetric
from ccsurge.detector import Detector
from ccsurge.simulate import MONDAY, WEEK_SECONDS, Change, traffic

HISTORY_WEEKS = 3
WEEK = MONDAY + HISTORY_WEEKS * WEEK_SECONDS
HOUR, DAY, MINUTE = 3600.0, 86_400.0, 60.0
#: (weekday, hour) of each burst: busy mornings and afternoons, a Friday evening, a Sunday.
BURST_TIMES = ((0, 9.5), (2, 11.0), (3, 15.0), (4, 18.0), (6, 13.0))


def edges(detector: Detector, ends: np.ndarray, values: np.ndarray) -> tuple[list[float], list[float]]:
    rises: list[float] = []
    falls: list[float] = []
    was = detector.alert
    for at, value in zip(ends.tolist(), values.tolist(), strict=True):
        detector.step(at, value)
        if detector.alert != was:
            (rises if detector.alert else falls).append(at)
            was = detector.alert
    return rises, falls


def trained(seed: int) -> tuple[Detector, int]:
    detector = Detector(SurgeKey("bench", "tenant", "queue"), SurgeMetric.ARRIVALS)
    ends, arrivals = traffic(MONDAY, HISTORY_WEEKS, seed=seed)
    rises, _ = edges(detector, ends, arrivals)
    return detector, len(rises)


def scenario(detector: Detector, seed: int, change: Change | None) -> tuple[list[float], list[float]]:
    ends, arrivals = traffic(WEEK, 1, seed=seed, changes=() if change is None else (change,))
    return edges(copy.deepcopy(detector), ends, arrivals)


def cold_start_burst() -> tuple[float, float]:
    """A fresh detector (no history at all) on a Monday's traffic, then a 10x burst on Tuesday at
    11:00: (minutes to the alert, minutes from the burst's end to the clearing)."""
    burst = Change(MONDAY + DAY + 11 * HOUR, 20 * MINUTE, 10.0)
    ends, arrivals = traffic(MONDAY, 2 / 7, seed=7, changes=(burst,))
    detector = Detector(SurgeKey("bench", "tenant", "queue"), SurgeMetric.ARRIVALS)
    rises, falls = edges(detector, ends, arrivals)
    inside = [r for r in rises if burst.start < r <= burst.start + burst.seconds]
    if not inside:
        return float("inf"), float("inf")
    after = [f for f in falls if f > inside[0]]
    end = burst.start + burst.seconds
    return (inside[0] - burst.start) / MINUTE, (after[0] - end) / MINUTE if after else float("inf")


def throughput(detector: Detector, seed: int) -> tuple[float, float]:
    ends, arrivals = traffic(WEEK, 2, seed=seed)
    pairs = list(zip(ends.tolist(), arrivals.tolist(), strict=True))
    stepping = copy.deepcopy(detector)
    step = stepping.step
    started = time.process_time()
    for at, value in pairs:
        step(at, value)
    step_rate = len(pairs) / (time.process_time() - started)
    observing = copy.deepcopy(detector)
    observe = observing.observe
    started = time.process_time()
    for at, value in pairs:
        observe(at, value)
    return step_rate, len(pairs) / (time.process_time() - started)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.surge", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-e2e", action="store_true", help="skip the end-to-end surge run (detector figures only)"
    )
    defaults = SurgeRunSettings()
    parser.add_argument("--agents", type=int, default=defaults.agents, help="agents on the bursting queue")
    parser.add_argument(
        "--handle-seconds",
        type=float,
        default=defaults.handle_seconds,
        help="seconds an agent holds a contact",
    )
    parser.add_argument(
        "--burst-seconds", type=float, default=defaults.burst_seconds, help="how long the 10x burst lasts"
    )
    options = parser.parse_args(argv)
    if options.agents < 1:
        parser.error(f"--agents must be at least 1, got {options.agents}")
    for name in ("handle_seconds", "burst_seconds"):
        if not getattr(options, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be above 0, got {getattr(options, name)}")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    seeds = range(int(os.environ.get("CC_BENCH_SEEDS", "5")))
    history_alerts = false_alerts = 0
    burst_delays: list[float] = []
    burst_clears: list[float] = []
    missed = 0
    ramp_delays: list[float] = []
    outage_delays: list[float] = []
    detector: Detector | None = None
    for seed in seeds:
        detector, alerts = trained(seed)
        history_alerts += alerts
        rises, _ = scenario(detector, 1000 + seed, None)
        false_alerts += len(rises)
        for day, hour in BURST_TIMES:
            burst = Change(WEEK + day * DAY + hour * HOUR, 20 * MINUTE, 10.0)
            rises, falls = scenario(detector, 1000 + seed, burst)
            inside = [r for r in rises if burst.start < r <= burst.start + burst.seconds]
            if not inside:
                missed += 1
                continue
            burst_delays.append((inside[0] - burst.start) / MINUTE)
            after = [f for f in falls if f > inside[0]]
            end = burst.start + burst.seconds
            burst_clears.append((after[0] - end) / MINUTE if after else float("inf"))
        ramp = Change(WEEK + 1 * DAY + 9 * HOUR, HOUR, 2.0, ramp=True, hold=HOUR)
        rises, _ = scenario(detector, 1000 + seed, ramp)
        ramp_delays.append((rises[0] - ramp.start) / MINUTE if rises else float("inf"))
        outage = Change(WEEK + 3 * DAY + 14 * HOUR, 30 * MINUTE, 0.0)
        rises, _ = scenario(detector, 1000 + seed, outage)
        outage_delays.append((rises[0] - outage.start) / MINUTE if rises else float("inf"))
    assert detector is not None
    cold_delay, cold_clear = cold_start_burst()
    step_rate, observe_rate = throughput(detector, 99)
    weeks = len(seeds)
    worst_delay = max(burst_delays) if not missed else float("inf")
    results: dict[str, Any] = {
        "observations_per_cpu_second_step": round(step_rate),
        "observations_per_cpu_second_observe": round(observe_rate),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seeds": weeks,
        "false_alerts_per_normal_week": false_alerts / weeks,
        "false_alerts_in_history_weeks_incl_cold_start": history_alerts,
        "burst_detection_delay_minutes_max": worst_delay,
        "burst_detection_delay_minutes_median": statistics.median(burst_delays) if burst_delays else None,
        "bursts_missed": missed,
        "burst_clear_after_end_minutes_max": max(burst_clears) if burst_clears else None,
        "ramp_2x_hour_detection_delay_minutes": ramp_delays,
        "drop_to_zero_detection_delay_minutes": outage_delays,
        "cold_start_burst_detection_delay_minutes": cold_delay,
        "cold_start_burst_clear_after_end_minutes": cold_clear,
    }
    goals = [
        Goal("observations_per_cpu_second_observe", ">=", 100_000, observe_rate),
        Goal("burst_detection_delay_minutes_max", "<=", 2, worst_delay),
        Goal("false_alerts_per_normal_week", "<=", 0, false_alerts / weeks),
        Goal("burst_clear_after_end_minutes_max", "<=", 10, max(burst_clears, default=float("inf"))),
    ]
    if not options.no_e2e:
        settings = SurgeRunSettings(
            agents=options.agents, handle_seconds=options.handle_seconds, burst_seconds=options.burst_seconds
        )
        e2e = asyncio.run(surge_comparison(settings))
        results["e2e"] = e2e
        ratio = e2e["answered_within_target_ratio"]
        results["answered_within_target_ratio"] = ratio
        lost = e2e["guard_off"]["lost"] + e2e["guard_on"]["lost"]
        goals += [
            Goal("answered_within_target_ratio", ">", 1.0, ratio),
            Goal("e2e_contacts_lost", "<=", 0, lost),
        ]
        results["load_average_1m_after_e2e"] = round(os.getloadavg()[0], 2)
    print_report("surge", results, goals)


if __name__ == "__main__":
    main()
