"""`make bench-platform-faults` (`python -m bench.platform --leader-kill`): a stream leader killed
under load on the production setting, a 3-node JetStream cluster with every store at R3.

The region starts as the platform bench starts it, on the cluster (`CC_STREAM_REPLICAS=3`); the
bench's agents accept every offer at once and release it. New customers' signed webhooks arrive
open loop at RATE (by default half the region's saturation rate: issue 16 measured about 50 new
contacts per second end to end on a single server). KILL_AFTER seconds in, the server leading the
region's event stream is SIGKILLed; it stays down for the rest of the load (the cluster carries
on with two of three) and is started again on its store afterwards.

The rate: unless given (`--leader-kill-rate`), half the saturation rate measured in the same
run, on the same cluster, just before: short probe steps at rising rates (`PROBE_RATES`), each
waited for until every contact is offered or the drain passes; the saturation rate is the
highest step whose contacts were all offered with offer p99 <= 500 ms (`baseline.probes` shows
every step). On a shared machine that rate follows the neighbours' load, so the fault runs at
the half-saturation the issue means, not at a figure measured on another day.

Reported:
- `webhook_gap_seconds`: the longest time without a webhook answered 201 (contact created), from
  just before the kill to the end of sending;
- `offer_gap_seconds`: the same for offers reaching an agent's socket;
- `killed.leaderless_seconds`: how long each stream and bucket the killed server led had no
  leader. nats-server's followers wait 4 to 9 s (a fixed, random raft election timeout) before
  electing another, each stream (and each consumer) on its own, and nothing is written to a
  stream meanwhile: the longest of those the path needs (the event stream for both gaps; for
  offers also routing's ACD bucket and its consumer) is the floor under a gap;
  `killed.consumers_leaderless_seconds` the same for the event stream's durable consumers the
  killed server led (routing reads queued contacts through `routing-acd-queued`);
  `killed.elected_after_seconds` when each stream and consumer got its new leader, from the
  surviving servers' own logs (exact, where the asks above see it only at their next try);
- `webhooks_back_after_kill_seconds` / `offers_back_after_kill_seconds`: from the kill to the
  end of each gap (the first webhook answered 201 / offer read after it); set beside the
  elections, what is left of each is the clients' own catching up;
- `p99_windows`: the offer p99 (webhook sent to offer read) per second of sending, from the
  phase's start (the seconds before the kill are its baseline) to the end of sending; a contact
  never offered counts as infinitely late;
- `baseline.p99_before_kill_ms`: the offer p99 of the contacts of the same phase sent until
  `BASELINE_MARGIN_SECONDS` before the kill (same rate, same machine, same minute; those sent
  later may be delayed by the kill itself);
- `p99_recovery_seconds`: from the kill until the per-second p99 is back for good under
  `recovery_threshold_ms`, the larger of 500 ms and the p99 before the kill (on a machine so busy
  that the platform missed 500 ms before anything was killed, recovery means back to where it
  was); NaN when it was not before sending ended. `p99_under_500ms_again_seconds` is the same
  against 500 ms alone;
- the audit (see `fault_audit.py`): contacts lost, offered or accepted twice, stuck; each
  example tells the contact's events on the stream (queued but never offered is routing's;
  never queued, the gateway's), and `queue_at_end` what routing still holds waiting after the
  settle (a `lost` contact still waiting there was never offered within the settle: a backlog,
  not a loss).

The machine's load average at the start, after the probes and at the end is reported beside
the figures.

Goals: both gaps at most 6 s, recovery at most 15 s, zero contacts lost, doubled or stuck.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.platform.agents import API_CAPACITY
from bench.platform.fault_audit import audit, tell
from bench.platform.faults import (
    FaultRun,
    close_fault_run,
    environment_note,
    kill_leader_of,
    open_fault_run,
    region_stream_leaders,
    settle,
    warm_up,
)
from bench.platform.region import QUEUE, REGION, TENANT
from bench.report import Goal, print_report
from ccmesh import naming
from contactcenter.routing.v1 import routing_pb2

#: 0: half the saturation rate measured by the probes of the same run.
DEFAULT_RATE = 0
#: New contacts per second of the probe steps, in order; the probes stop at the first that fails.
PROBE_RATES = (4, 8, 12, 16, 20, 25, 30, 40, 50, 60)
PROBE_SECONDS = 5.0
#: Upper bound on the wait for a probe's offers (a step that needs longer has failed).
PROBE_DRAIN_SECONDS = 10.0
#: The rate when not even the first probe passed (the machine is that busy).
MIN_RATE = 2.0
#: Contacts sent this close before the kill are not the baseline: the kill may delay them.
BASELINE_MARGIN_SECONDS = 2.0
LOAD_SECONDS = 40.0
KILL_AFTER = 10.0
SETTLE_SECONDS = 60.0
P99_GOAL_MS = 500.0
GAP_GOAL_SECONDS = 6.0
RECOVERY_GOAL_SECONDS = 15.0
#: Seconds of sending per p99 window.
WINDOW_SECONDS = 1.0


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] with none of `times` in it."""
    first, last = longest_gap_span(times, start, end)
    return last - first


def longest_gap_span(times: list[float], start: float, end: float) -> tuple[float, float]:
    """Where the longest stretch of [start, end] with none of `times` in it begins and ends."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(itertools.pairwise(edges), key=lambda span: span[1] - span[0])


def back_after(times: list[float], start: float, end: float, moment: float) -> float:
    """Seconds from `moment` to the end of the longest gap in `times` (see `longest_gap_span`)."""
    return round(longest_gap_span(times, start, end)[1] - moment, 2)


def offer_latencies_ms(
    sent_at: dict[str, float], offered_at: dict[str, float], start: float, stop: float
) -> list[float]:
    """Sorted offer latencies of the contacts sent in [start, stop); never offered: infinite."""
    return sorted(
        (offered_at[c] - s) * 1000 if c in offered_at else math.inf
        for c, s in sent_at.items()
        if start <= s < stop
    )


def p99_of(latencies: list[float]) -> float:
    """The 99th percentile of sorted `latencies` (NaN for none)."""
    return latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else math.nan


def saturation_rate(probes: list[dict[str, Any]]) -> float:
    """The highest probe rate whose contacts were all offered with p99 within the goal, from the
    first probe until the first that failed (0.0 when the first failed)."""
    passed = 0.0
    for probe in probes:
        if not (probe["offered_share"] == 1.0 and probe["offer_p99_ms"] <= P99_GOAL_MS):
            break
        passed = float(probe["rate"])
    return passed


def p99_recovery(
    sent_at: dict[str, float],
    offered_at: dict[str, float],
    kill: float,
    end: float,
    since: float | None = None,
    threshold_ms: float = P99_GOAL_MS,
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds from `kill` to the end of the last window (by send time) after it whose offer p99
    was over `threshold_ms`, and each window's p99 from `since` (default: the kill; earlier
    windows show the p99 before it); NaN when the last window itself was over."""
    windows: list[dict[str, Any]] = []
    start = kill - math.floor((kill - since) / WINDOW_SECONDS) * WINDOW_SECONDS if since is not None else kill
    last_bad = None
    while start < end:
        stop = start + WINDOW_SECONDS
        latencies = offer_latencies_ms(sent_at, offered_at, start, stop)
        if latencies:
            p99 = p99_of(latencies)
            windows.append({"from_kill_s": round(start - kill, 1), "contacts": len(latencies), "p99_ms": p99})
            if p99 > threshold_ms and start >= kill:
                last_bad = stop
        start = stop
    if last_bad is None:
        return 0.0, windows
    if last_bad >= end:
        return math.nan, windows
    return last_bad - kill, windows


async def probe(run: FaultRun) -> list[dict[str, Any]]:
    """Short steps at `PROBE_RATES` until one fails (see `saturation_rate`); then until its
    backlog is offered, so the fault starts on a region that keeps up."""
    probes: list[dict[str, Any]] = []
    for rate in PROBE_RATES:
        phase = await run.phase(rate, PROBE_SECONDS)
        await run.log.wait_offered(phase.contacts, PROBE_DRAIN_SECONDS)
        offered = {c: run.log.offered_at[c] for c in phase.contacts if c in run.log.offered_at}
        latencies = offer_latencies_ms(phase.sent_at, offered, -math.inf, math.inf)
        probes.append(
            {
                "rate": rate,
                "contacts": len(phase.contacts),
                "statuses": phase.answer["statuses"],
                "offered_share": round(len(offered) / max(1, len(phase.contacts)), 4),
                "offer_p99_ms": round(p99_of(latencies), 1),
                "load_average": environment_note()["load_average"],
            }
        )
        print(f"bench-platform faults: probe {probes[-1]}", file=sys.stderr, flush=True)
        if saturation_rate(probes) < rate:
            await run.log.wait_offered(phase.contacts, SETTLE_SECONDS)
            break
    return probes


async def queue_at_end(run: FaultRun) -> dict[str, Any] | None:
    """The bench queue as routing holds it after the settle (None: routing did not answer)."""
    with contextlib.suppress(Exception):
        stats = await run.region.routing().GetQueueStats(
            routing_pb2.GetQueueStatsRequest(tenant_id=TENANT, queue=QUEUE)
        )
        return {"depth": stats.depth, "longest_wait_seconds": round(stats.longest_wait_seconds, 1)}
    return None


async def leader_kill(options: argparse.Namespace) -> None:
    rate = options.leader_kill_rate
    results: dict[str, Any] = {
        "mode": "leader-kill",
        "load_seconds": LOAD_SECONDS,
        "kill_after_seconds": KILL_AFTER,
        "agents": options.agents,
        "stream_replicas": 3,
        "at_start": environment_note(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-platform-faults-") as tmp:
        data_dir = Path(options.data_dir) if options.data_dir else Path(tmp)
        run = await open_fault_run(
            data_dir,
            cluster=True,
            agents=options.agents,
            capacity=API_CAPACITY,
            hold_seconds=0.0,
            # Production settings: routing's own offer timeout.
            short_offer_timeout=False,
        )
        try:
            await warm_up(run)
            if not rate:
                probes = await probe(run)
                saturation = saturation_rate(probes)
                rate = max(MIN_RATE, saturation / 2)
                results["baseline"] = {
                    "probes": probes,
                    "saturation_rate": saturation,
                    "after_probes": environment_note(),
                }
            results["rate"] = rate
            events = naming.events_stream(REGION).name
            leaders_before = await region_stream_leaders(run)

            async def fault() -> dict[str, Any]:
                return await kill_leader_of(run, events, down_seconds=LOAD_SECONDS - KILL_AFTER)

            phase = await run.phase(rate, LOAD_SECONDS, fault, KILL_AFTER)
            stories = await settle(run, phase.contacts, SETTLE_SECONDS)
            leaders_after = await region_stream_leaders(run)
            results["queue_at_end"] = await queue_at_end(run)
        finally:
            await close_fault_run(run)
    assert phase.fault_started is not None
    kill = phase.fault_started
    killed_at = phase.fault_detail["killed_at"]
    gaps_from = kill - 1.0
    sending_end = phase.started + LOAD_SECONDS
    offered_at = {c: run.log.offered_at[c] for c in phase.contacts if c in run.log.offered_at}
    accepted_times: list[float] = phase.answer["accepted_at"]
    offer_times = [t for c in phase.contacts for _, _, t in run.log.offers.get(c, [])]
    before_kill = p99_of(
        offer_latencies_ms(phase.sent_at, offered_at, phase.started, kill - BASELINE_MARGIN_SECONDS)
    )
    threshold = max(P99_GOAL_MS, before_kill) if not math.isnan(before_kill) else P99_GOAL_MS
    recovery, windows = p99_recovery(
        phase.sent_at, offered_at, kill, sending_end, since=phase.started, threshold_ms=threshold
    )
    under_goal_again, _ = p99_recovery(phase.sent_at, offered_at, kill, sending_end)
    results.setdefault("baseline", {})["p99_before_kill_ms"] = round(before_kill, 1)
    found = audit(phase.contacts, run.log, stories)
    counts = found.counts()
    lost = counts["lost"] + counts["never_accepted"]
    doubled = counts["offered_twice"] + counts["accepted_twice"]
    results.update(
        {
            "killed": phase.fault_detail,
            "leaders_before": leaders_before,
            "leaders_after": leaders_after,
            "sent": phase.answer["sent"],
            "statuses": phase.answer["statuses"],
            "contacts": len(phase.contacts),
            "webhook_gap_seconds": round(longest_gap(accepted_times, gaps_from, sending_end), 2),
            "offer_gap_seconds": round(longest_gap(offer_times, gaps_from, sending_end), 2),
            # Beside the servers' elections (`killed.elected_after_seconds`): what of each gap
            # is the election and what is the clients' own catching up after it.
            "webhooks_back_after_kill_seconds": back_after(accepted_times, gaps_from, sending_end, killed_at),
            "offers_back_after_kill_seconds": back_after(offer_times, gaps_from, sending_end, killed_at),
            "recovery_threshold_ms": round(threshold, 1),
            "p99_recovery_seconds": round(recovery, 2),
            "p99_under_500ms_again_seconds": round(under_goal_again, 2),
            "p99_windows": [{**w, "p99_ms": round(w["p99_ms"], 1)} for w in windows],
            "audit": counts,
            "audit_examples": {
                name: [tell(c, run.log, stories) for c in getattr(found, name)[:3]]
                for name in found.PROBLEMS
                if name != "over_capacity" and getattr(found, name)
            },
            "agent_errors": dict(run.log.errors),
            "at_end": environment_note(),
        }
    )
    goals = [
        Goal("webhook_gap_seconds_leader_kill_r3", "<=", GAP_GOAL_SECONDS, results["webhook_gap_seconds"]),
        Goal("offer_gap_seconds_leader_kill_r3", "<=", GAP_GOAL_SECONDS, results["offer_gap_seconds"]),
        Goal("p99_back_to_baseline_seconds_leader_kill_r3", "<=", RECOVERY_GOAL_SECONDS, recovery),
        Goal("contacts_lost_leader_kill_r3", "<=", 0, lost),
        Goal("contacts_doubled_leader_kill_r3", "<=", 0, doubled),
        Goal("contacts_stuck_leader_kill_r3", "<=", 0, counts["stuck"]),
    ]
    print_report("platform", results, goals)
