"""`make bench-platform`: new contacts per second the whole region carries end to end.

The region starts as `ccctl up` starts it (nats-server, the example configuration, every service
as its own process; free ports, a temporary data directory). A generic provider endpoint of the
bench's own hands new contacts to a queue of its own; AGENTS bench agents log in on the agent
workspace socket, go available and accept every offer the moment it is pushed (then release the
contact, see `agents.py`). A load generator in a process of its own (`loadgen.py`) sends signed
webhooks from new customers (a phone number each) open loop at stepped rates.

Per step:
- `accepted_per_second`: webhooks answered 201 (contact created) per second, first request to
  last answer;
- `offered_per_second`, `offered_share`: offers that reached an agent's socket, per second from
  the step's start to the last offer, and the share of the step's contacts offered at all
  (within the drain time after the last request);
- `offer_p50_ms` / `offer_p99_ms`: from just before the webhook is sent until the offer is read
  from the agent's socket (one machine, one wall clock);
- `cpu_seconds` per process, with the worker processes it started (services, nats-server, the
  provider sandbox, the load generator, the bench's agents) over the step and its drain, and
  `platform_cpu_ms_per_contact` (services + nats-server);
- `nats`: the server's message counters (`/varz`) over the step divided by the contacts:
  `in_per_contact` counts every publish (events, KV writes and reads, requests and replies,
  acks), `out_per_contact` every delivery; `by_connection` splits them per service connection.

Before the steps, unless skipped: `nats_subjects`, a step of its own at a low rate with a `>`
subscription counting each message by subject shape and by operation (a request with its reply
and the deliveries of what it stored). After them: `idle_after`, and
`tracing_overhead`, a second fresh region with `OTEL_TRACES_SAMPLER=always_off` running the same
steps up to the reference rate, against this run's default sampling (what `ccctl up` sets:
parent-based, 1 in 100 traces).

Steps stop after the first one that falls over (not every contact offered within the drain, or
offer p99 above STOP_P99_MS): later steps would only measure the backlog.

`--leader-kill` runs the fault bench instead (see `leader_kill.py`): the event stream's leader
killed under load on a 3-node R3 cluster, with its gaps, recovery and audit.

Last, `replay` (see `replay.py`): a region's routing fed contacts that are queued and closed
again, and at each checkpoint its CPU per contact, idle CPU and memory against a second region
fed the first checkpoint's number, both measured at the same moments.

`acd_cost` (see `acd_cost.py`, also runnable alone): routing's ACD in the bench's own process
against a server of its own, contacts offered, accepted and completed in waves: its CPU per
contact and bucket writes per contact, figures that a busy machine moves far less than rates.

Goals (the contact path at production scale): the highest step rate at which every contact was
offered with offer p99 <= 500 ms is at least 500/s; offer p99 <= 100 ms at 100/s; and routing's
CPU per contact and idle CPU after 1,000,000 contacts within 10% of after 10,000 (the goal's
name says which checkpoints were measured: `--replay 10000,1000000` for the goal's own sizes,
which takes long; the default is smaller).

The machine's load average at the start and end of the run is reported beside the figures: on a
shared machine the rates and latencies say more about the neighbours than about the platform,
while the per-contact counts (NATS messages, and less so CPU) still hold.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import nats

from bench.platform.acd_cost import measure_alone as acd_cost
from bench.platform.agents import RELEASES, AgentFloor, OfferLog, create_agents, log_in
from bench.platform.leader_kill import DEFAULT_RATE as DEFAULT_LEADER_KILL_RATE
from bench.platform.leader_kill import leader_kill
from bench.platform.loadgen import LoadProcess
from bench.platform.meters import NatsMonitor, SubjectCapture, cpu_seconds
from bench.platform.region import (
    BRAND,
    QUEUE,
    REGION,
    SAMPLERS,
    SIGNING_SECRET,
    TENANT,
    BenchRegion,
    start_region,
    stop_region,
)
from bench.platform.replay import replay
from bench.report import Goal, percentile, print_report
from ccmesh import event_loop

# Steps close together where the region saturates today (between 50 and 200 per second), so the
# rate reported is within a quarter of the true one; then on to the goal.
FULL_RATES = [25, 50, 75, 100, 125, 150, 200, 350, 500]
FULL_STEP_SECONDS = 12.0
QUICK_RATES = [25, 50, 75, 100, 150, 200]
QUICK_STEP_SECONDS = 6.0
FULL_REPLAY = "10000,100000"
QUICK_REPLAY = "1000,10000"
FULL_REPLAY_BATCH = 2000
QUICK_REPLAY_BATCH = 500
REFERENCE_RATE = 100
#: Contacts of the in-process ACD cost run.
ACD_COST_CONTACTS = 2000
STOP_P99_MS = 5000.0
GOAL_RATE = 500.0
GOAL_P99_MS = 500.0
GOAL_P99_AT_100_MS = 100.0
#: Phone numbers: +49 170 <2 digits of the step> <6 digits>, new in every step of a run.
NUMBER_BASE = "+49170"
#: Warm-up attempts use step numbers from here on; the subject capture uses SUBJECT_STEP.
WARM_UP_STEPS = 50
#: The bench's own processes, left out of the platform's CPU.
BENCH_PROCESSES = ("loadgen", "bench-agents")
SUBJECT_STEP = 40


class Run:
    """One region under load: its agents, its load generator and what they saw."""

    def __init__(self, region: BenchRegion, load: LoadProcess, floor: AgentFloor, log: OfferLog) -> None:
        self.region = region
        self.load = load
        self.floor = floor
        self.log = log
        #: Platform CPU cores, NATS in and out messages per second with no traffic.
        self.idle_baseline: tuple[float, float, float] | None = None

    def cpu(self) -> dict[str, float]:
        found = self.region.cpu()
        found["loadgen"] = cpu_seconds(self.load.pid, descendants=True)
        found["bench-agents"] = cpu_seconds(os.getpid())
        return found

    async def idle(self, monitor: NatsMonitor, seconds: float) -> dict[str, Any]:
        """CPU share of a core per process and NATS messages per second with no traffic (the
        first measurement becomes the baseline the steps' `above_idle` figures subtract)."""
        cpu0, counters0 = self.cpu(), await monitor.counters()
        await asyncio.sleep(seconds)
        cpu1, counters1 = self.cpu(), await monitor.counters()
        delta = counters1.minus(counters0)
        if self.idle_baseline is None:
            platform = sum(cpu1[n] - cpu0.get(n, 0.0) for n in cpu1 if n not in BENCH_PROCESSES)
            self.idle_baseline = (platform / seconds, delta.in_msgs / seconds, delta.out_msgs / seconds)
        return {
            "seconds": seconds,
            "cpu_share_of_core": {n: round((cpu1[n] - cpu0.get(n, 0.0)) / seconds, 4) for n in cpu1},
            "nats_in_per_second": round(delta.in_msgs / seconds, 1),
            "nats_out_per_second": round(delta.out_msgs / seconds, 1),
        }

    async def step(
        self, monitor: NatsMonitor, index: int, rate: float, seconds: float, drain: float
    ) -> dict[str, Any]:
        cpu0, counters0, conns0 = self.cpu(), await monitor.counters(), await monitor.connections()
        t0 = time.time()
        answer = await self.load.step(index, rate, seconds)
        contacts: list[tuple[str, float]] = [(c, s) for c, s in answer["contacts"]]
        await self.log.wait_offered([c for c, _ in contacts], drain)
        t1 = time.time()
        cpu1, counters1, conns1 = self.cpu(), await monitor.counters(), await monitor.connections()
        window = t1 - t0
        offered = [(c, s) for c, s in contacts if c in self.log.offered_at]
        latencies = [(self.log.offered_at[c] - s) * 1000 for c, s in offered]
        created = len(contacts)
        per = max(1, created)
        last_offer = max((self.log.offered_at[c] for c, _ in offered), default=answer["started"])
        delta = counters1.minus(counters0)
        cpu = {n: round(cpu1[n] - cpu0.get(n, 0.0), 3) for n in cpu1}
        platform_cpu = sum(v for n, v in cpu.items() if n not in BENCH_PROCESSES)
        idle_cores, idle_in, idle_out = self.idle_baseline or (0.0, 0.0, 0.0)
        above_idle = platform_cpu - idle_cores * window
        by_connection: dict[str, dict[str, float]] = {}
        for name, (ins, outs) in conns1.items():
            before = conns0.get(name, (0, 0))
            owner = name.split("/")[0]
            entry = by_connection.setdefault(owner, {"in_per_contact": 0.0, "out_per_contact": 0.0})
            entry["in_per_contact"] += (ins - before[0]) / per
            entry["out_per_contact"] += (outs - before[1]) / per
        answered = max(1e-9, answer["last_answer"] - answer["started"])
        return {
            "rate": rate,
            "seconds": seconds,
            "sent": answer["sent"],
            "accepted": answer["accepted"],
            "statuses": answer["statuses"],
            "contacts_created": created,
            "accepted_per_second": round(answer["accepted"] / answered, 1),
            "webhook_answer_p50_ms": answer["answer_p50_ms"],
            "webhook_answer_p99_ms": answer["answer_p99_ms"],
            "offered": len(offered),
            "offered_share": round(len(offered) / per, 4),
            "offered_per_second": round(len(offered) / max(1e-9, last_offer - answer["started"]), 1),
            "offer_p50_ms": round(statistics.median(latencies), 1) if latencies else math.nan,
            "offer_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else math.nan,
            "offer_max_ms": round(max(latencies), 1) if latencies else math.nan,
            "window_seconds": round(window, 2),
            "cpu_seconds": cpu,
            "cores_used": round(sum(cpu.values()) / window, 3),
            "platform_cpu_ms_per_contact": round(platform_cpu * 1000 / per, 2),
            # What the contacts cost beyond what the region spends doing nothing for as long.
            "platform_cpu_ms_per_contact_above_idle": round(above_idle * 1000 / per, 2),
            "cpu_ms_per_contact": {n: round(v * 1000 / per, 2) for n, v in cpu.items()},
            "nats": {
                "in_msgs": delta.in_msgs,
                "out_msgs": delta.out_msgs,
                "in_per_contact": round(delta.in_msgs / per, 1),
                "out_per_contact": round(delta.out_msgs / per, 1),
                "in_per_contact_above_idle": round((delta.in_msgs - idle_in * window) / per, 1),
                "out_per_contact_above_idle": round((delta.out_msgs - idle_out * window) / per, 1),
                "bytes_per_contact": round((delta.in_bytes + delta.out_bytes) / per),
                "by_connection": {
                    k: {kk: round(vv, 1) for kk, vv in v.items()}
                    for k, v in sorted(by_connection.items(), key=lambda kv: -kv[1]["in_per_contact"])
                },
            },
            "loadgen_lag_max_ms": answer["lag_max_ms"],
            "agent_errors": dict(self.log.errors),
            # The machine's load at the step's end: on a shared machine, how far to trust its rates.
            "load_average_1m": round(os.getloadavg()[0], 2),
        }


def fell_over(step: dict[str, Any]) -> bool:
    return step["offered_share"] < 1.0 or not step["offer_p99_ms"] <= STOP_P99_MS


async def open_run(tmp: Path, options: argparse.Namespace, sampler: str) -> Run:
    region = await start_region(tmp, sampler, options.socket_rate)
    try:
        log = OfferLog()
        ids = await create_agents(region.identity(), TENANT, REGION, BRAND, QUEUE, options.agents)
        routing = region.routing()
        session = aiohttp.ClientSession()
        agents = []
        for agent_id in ids:
            agents.append(
                await log_in(
                    session,
                    region.agent_socket_url,
                    region.authority(),
                    TENANT,
                    agent_id,
                    log,
                    options.release,
                    routing,
                )
            )
        floor = AgentFloor(agents, session)
        load = await LoadProcess.start(region.webhook_url, SIGNING_SECRET, NUMBER_BASE)
    except BaseException:
        await stop_region(region)
        raise
    return Run(region, load, floor, log)


async def close_run(run: Run) -> None:
    try:
        await run.load.stop()
        await run.floor.close()
    finally:
        await stop_region(run.region)


#: The region is at rest when all its processes together use less than this share of a core.
QUIET_CORES = 0.3
QUIET_WINDOW_SECONDS = 1.0


async def warm_up(run: Run, monitor: NatsMonitor) -> None:
    """Until the bench endpoint answers and offers flow (the gateway picks the endpoint up live)."""
    deadline = time.monotonic() + 60
    for attempt in range(WARM_UP_STEPS):
        step = await run.step(monitor, WARM_UP_STEPS + attempt, 10, 1.0, drain=10.0)
        if step["contacts_created"] and step["offered_share"] == 1.0:
            await quiet(run, deadline + 60)
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"no offers during warm-up: {step}")


async def quiet(run: Run, deadline: float) -> None:
    """Until the region's processes rest: the first contacts start work that outlives them (ai
    loads its inference workers' models, seconds of a core), which the idle baseline and the
    first step must not take for the cost of contacts."""
    before = run.cpu()
    while time.monotonic() < deadline:
        await asyncio.sleep(QUIET_WINDOW_SECONDS)
        now = run.cpu()
        busy = sum(now[n] - before.get(n, 0.0) for n in now if n not in BENCH_PROCESSES)
        if busy / QUIET_WINDOW_SECONDS < QUIET_CORES:
            return
        before = now
    print("bench-platform: the region did not come to rest after the warm-up", file=sys.stderr, flush=True)


async def stepped(
    run: Run, monitor: NatsMonitor, rates: list[int], seconds: float, drain: float, stop_at_fall: bool
) -> list[dict[str, Any]]:
    steps = []
    for index, rate in enumerate(rates):
        step = await run.step(monitor, index, rate, seconds, drain)
        steps.append(step)
        print(
            f"bench-platform: {rate}/s accepted {step['accepted_per_second']}/s offered "
            f"{step['offered_per_second']}/s ({step['offered_share']:.0%}) p50 {step['offer_p50_ms']} ms "
            f"p99 {step['offer_p99_ms']} ms (webhook answer p99 {step['webhook_answer_p99_ms']} ms), "
            f"{step['platform_cpu_ms_per_contact']} ms CPU/contact, "
            f"NATS in {step['nats']['in_per_contact']} out {step['nats']['out_per_contact']} per contact "
            f"(load average {step['load_average_1m']})",
            file=sys.stderr,
            flush=True,
        )
        if stop_at_fall and fell_over(step):
            break
        await asyncio.sleep(1.0)
    return steps


async def subject_profile(run: Run, monitor: NatsMonitor, rate: float, seconds: float) -> dict[str, Any]:
    capture = SubjectCapture()
    nc = await nats.connect(run.region.platform.nats_url, name="bench-capture", pending_size=256 << 20)
    try:
        await capture.start(nc)
        step = await run.step(monitor, SUBJECT_STEP, rate, seconds, drain=15.0)
        await nc.flush()
        await asyncio.sleep(0.5)
    finally:
        await nc.close()
    contacts = step["contacts_created"]
    per_contact = round(capture.total / max(1, contacts), 1)
    print(
        f"bench-platform: {per_contact} NATS messages per contact (every message the server routed, "
        f"{contacts} contacts at {rate}/s; by operation in `nats_subjects`)",
        file=sys.stderr,
        flush=True,
    )
    return {
        "rate": rate,
        "contacts": contacts,
        "messages_per_contact": per_contact,
        "by_operation": capture.per_operation(contacts),
        "top": capture.per_contact(contacts),
    }


def max_rate_meeting(steps: list[dict[str, Any]]) -> float:
    good = [s["rate"] for s in steps if s["offered_share"] == 1.0 and s["offer_p99_ms"] <= GOAL_P99_MS]
    return float(max(good)) if good else 0.0


def at_rate(steps: list[dict[str, Any]], rate: float, key: str) -> float:
    for step in steps:
        if step["rate"] == rate:
            return float(step[key])
    return math.nan


async def tracing_overhead(
    options: argparse.Namespace, rates: list[int], seconds: float, default_steps: list[dict[str, Any]]
) -> dict[str, Any]:
    reference = [r for r in rates if r <= REFERENCE_RATE]
    with tempfile.TemporaryDirectory(prefix="bench-platform-off-") as tmp:
        run = await open_run(Path(tmp) / "data", options, "always_off")
        try:
            async with aiohttp.ClientSession() as http:
                monitor = NatsMonitor(http, run.region.monitor_port)
                await warm_up(run, monitor)
                await run.idle(monitor, 5.0)
                off_steps = await stepped(run, monitor, reference, seconds, options.drain, stop_at_fall=False)
        finally:
            await close_run(run)

    def services_ms(step: dict[str, Any]) -> float:
        return float(sum(v for n, v in step["cpu_ms_per_contact"].items() if n not in BENCH_PROCESSES))

    compared = []
    for off in off_steps:
        on = next((s for s in default_steps if s["rate"] == off["rate"]), None)
        if on is None:
            continue
        compared.append(
            {
                "rate": off["rate"],
                "sampling_off_cpu_ms_per_contact": round(services_ms(off), 2),
                "default_cpu_ms_per_contact": round(services_ms(on), 2),
                "overhead_share": round(services_ms(on) / services_ms(off) - 1.0, 4)
                if services_ms(off)
                else math.nan,
                "sampling_off_p99_ms": off["offer_p99_ms"],
                "default_p99_ms": on["offer_p99_ms"],
            }
        )
    total_off = sum(c["sampling_off_cpu_ms_per_contact"] for c in compared)
    total_on = sum(c["default_cpu_ms_per_contact"] for c in compared)
    return {
        "default_sampler": "parentbased_traceidratio 0.01 (ccctl up's default)",
        "steps": compared,
        "overhead_share": round(total_on / total_off - 1.0, 4) if total_off else math.nan,
    }


async def replay_run(options: argparse.Namespace, checkpoints: list[int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-platform-replay-") as tmp:

        async def start(name: str) -> BenchRegion:
            return await start_region(Path(tmp) / name, options.sampler, options.socket_rate)

        batch = options.replay_batch or (QUICK_REPLAY_BATCH if options.quick else FULL_REPLAY_BATCH)
        return await replay(start, stop_region, checkpoints, batch)


def replay_checkpoints(options: argparse.Namespace) -> list[int]:
    if options.replay:
        return list(options.replay)
    return [int(n) for n in (QUICK_REPLAY if options.quick else FULL_REPLAY).split(",")]


def replay_goal(replay_result: dict[str, Any], checkpoints: list[int]) -> Goal:
    """Routing's CPU per contact and idle CPU after the last checkpoint's history against a
    routing fed the first checkpoint's, measured beside it at the same moments (see `replay.py`):
    the goal is 1,000,000 against 10,000 contacts; its name says which sizes were measured."""
    growth = (
        max(replay_result["cpu_per_contact_growth"], replay_result["idle_cpu_growth"])
        if replay_result["measured"]
        else math.nan
    )
    return Goal(
        f"routing_cpu_per_contact_and_idle_growth_{checkpoints[-1]}_vs_{checkpoints[0]}_contacts",
        "<=",
        0.10,
        growth,
    )


async def replay_only(options: argparse.Namespace) -> None:
    """`--replay-only`: the replay run alone, for the long checkpoints of its goal."""
    checkpoints = replay_checkpoints(options)
    results: dict[str, Any] = {
        "mode": "replay-only",
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    results["replay"] = await replay_run(options, checkpoints)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_report("platform", results, [replay_goal(results["replay"], checkpoints)])


def _whole_numbers(what: str, each: str, example: str) -> Callable[[str], list[int]]:
    """An argument type: comma-separated whole numbers above 0, a bad one named."""

    def parse(text: str) -> list[int]:
        try:
            numbers = [int(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: whole numbers {what}, e.g. {example}") from None
        if any(number <= 0 for number in numbers):
            raise argparse.ArgumentTypeError(f"{text!r}: every {each} must be above 0")
        return numbers

    return parse


_rates = _whole_numbers("per second", "rate", "25,50,100")
_checkpoints = _whole_numbers("of contacts", "checkpoint", "10000,1000000")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number, e.g. 2000") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be above 0")
    return value


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.platform", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"rates {QUICK_RATES}, {QUICK_STEP_SECONDS:.0f} s steps"
    )
    parser.add_argument("--rates", type=_rates, help="comma-separated new contacts per second, one step each")
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for offers after a step")
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--release", choices=RELEASES, default="complete")
    parser.add_argument("--sampler", choices=sorted(SAMPLERS), default="default")
    parser.add_argument(
        "--socket-rate", type=int, default=200, help="agent socket messages/s the gateway allows"
    )
    parser.add_argument("--all-steps", action="store_true", help="go on after a step that fell over")
    parser.add_argument("--data-dir", help="keep the stepped run's data and logs here (default: temporary)")
    parser.add_argument("--no-subjects", action="store_true", help="skip the subject capture step")
    parser.add_argument("--no-tracing-overhead", action="store_true", help="skip the sampling-off run")
    parser.add_argument(
        "--replay",
        type=_checkpoints,
        help="contacts fed to routing at each replay checkpoint, comma-separated "
        f"(default {QUICK_REPLAY} with --quick, else {FULL_REPLAY}; the goal compares 10000 and 1000000)",
    )
    parser.add_argument(
        "--replay-batch",
        type=_positive,
        help=f"contacts per replay batch (default {FULL_REPLAY_BATCH}; {QUICK_REPLAY_BATCH} with --quick)",
    )
    parser.add_argument("--no-replay", action="store_true", help="skip the replay run")
    parser.add_argument("--no-acd-cost", action="store_true", help="skip the in-process ACD cost run")
    parser.add_argument(
        "--replay-only", action="store_true", help="only the replay run (no load steps, no sampling-off run)"
    )
    parser.add_argument(
        "--leader-kill",
        action="store_true",
        help="instead of the steps: kill the event stream's leader under load on a 3-node R3 cluster "
        "(see bench/platform/leader_kill.py)",
    )
    parser.add_argument(
        "--leader-kill-rate",
        type=int,
        default=DEFAULT_LEADER_KILL_RATE,
        help="new contacts per second during the leader kill (default: half the saturation rate)",
    )
    return parser.parse_args(argv)


async def main(argv: list[str]) -> None:
    options = parse(argv)
    if options.leader_kill:
        await leader_kill(options)
        return
    if options.replay_only:
        await replay_only(options)
        return
    rates = options.rates or (QUICK_RATES if options.quick else FULL_RATES)
    seconds = options.step_seconds or (QUICK_STEP_SECONDS if options.quick else FULL_STEP_SECONDS)
    results: dict[str, Any] = {
        "mode": "quick" if options.quick else "full",
        "rates": rates,
        "step_seconds": seconds,
        "agents": options.agents,
        "release": options.release,
        "sampler": options.sampler,
        "cores": os.cpu_count(),
        # The machine may be shared: its load when the run started says how far to trust it.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    # First, before the region and its connections share this process with it.
    if options.no_acd_cost:
        results["acd_cost"] = {"measured": False, "why": "skipped (--no-acd-cost)"}
    else:
        try:
            results["acd_cost"] = await acd_cost(ACD_COST_CONTACTS)
        except Exception as error:  # the steps that follow are still measured
            results["acd_cost"] = {"measured": False, "error": f"{type(error).__name__}: {error}"}
    with tempfile.TemporaryDirectory(prefix="bench-platform-") as tmp:
        # A data directory given on the command line is kept (its logs explain a failed run).
        data_dir = Path(options.data_dir) if options.data_dir else Path(tmp) / "data"
        run = await open_run(data_dir, options, options.sampler)
        try:
            async with aiohttp.ClientSession() as http:
                monitor = NatsMonitor(http, run.region.monitor_port)
                await warm_up(run, monitor)
                results["idle_before"] = await run.idle(monitor, 5.0)
                if not options.no_subjects:
                    # First, while no backlog of a step that fell over distorts what a contact costs.
                    results["nats_subjects"] = await subject_profile(
                        run, monitor, 25.0, 4.0 if options.quick else 8.0
                    )
                steps = await stepped(run, monitor, rates, seconds, options.drain, not options.all_steps)
                results["steps"] = steps
                results["contacts_total"] = sum(s["contacts_created"] for s in steps)
                results["idle_after"] = await run.idle(monitor, 5.0)
        finally:
            await close_run(run)
    if not options.no_tracing_overhead and options.sampler == "default":
        try:
            results["tracing_overhead"] = await tracing_overhead(options, rates, seconds, steps)
        except Exception as error:  # the steps measured so far are still reported
            results["tracing_overhead"] = {"measured": False, "error": f"{type(error).__name__}: {error}"}
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["max_rate_all_offered_p99_500ms"] = max_rate_meeting(steps)
    checkpoints = replay_checkpoints(options)
    if options.no_replay:
        results["replay"] = {"measured": False, "why": "skipped (--no-replay)"}
    else:
        try:
            results["replay"] = await replay_run(options, checkpoints)
        except Exception as error:  # the steps measured so far are still reported
            results["replay"] = {"measured": False, "error": f"{type(error).__name__}: {error}"}
    goals = [
        Goal("max_new_contacts_per_second_all_offered_p99_500ms", ">=", GOAL_RATE, max_rate_meeting(steps)),
        Goal("offer_p99_ms_at_100_per_second", "<=", GOAL_P99_AT_100_MS, at_rate(steps, 100, "offer_p99_ms")),
        replay_goal(results["replay"], checkpoints),
    ]
    print_report("platform", results, goals)


if __name__ == "__main__":
    # The services' loop: the bench's agents run in this process, on the region's two cores.
    event_loop.run(main(sys.argv[1:]))
