"""`make bench-flows`: flow steps per second and simulator scenarios per second, in-process.

Node executions: the example support flow for every region and brand, contacts driven through
the executor until their hand-off (AI results and integration replies fed back at once), counted
by the executor's own per-node statistics. Scenarios: the example scenario files repeated to
10,000 contacts through the simulator (effective flows rendered once per context, as `ccctl
flow test` does). Goals: >= 20,000 node executions/s; 10,000 scenarios in < 5 s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Goal, print_report
from ccflow.effects import (
    AiResult,
    AwaitInput,
    CallbackAnswered,
    CallIntegration,
    Event,
    Input,
    IntegrationReply,
    InvokeAi,
    ScheduleCallback,
)
from ccflow.executor import Executor, NodeStats
from ccflow.journey import Journey
from ccflow.loader import load_paths
from ccflow.overlays import render, validate_bundle
from ccflow.simulator import ScenarioFile, Simulator, load_scenarios

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
CONTEXTS = [
    {"region": region, "brand": brand, "channel": channel}
    for region in ("eu", "us", "latam", "ap-southeast")
    for brand in ("acme-retail", "acme-bank")
    for channel in ("voice", "chat")
]
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
JOURNEYS = 4_000
SCENARIOS = 10_000


def drive(executor: Executor, journey: Journey) -> None:
    effects = executor.start(journey, NOW)
    while journey.status == "waiting":
        event: Event | None = None
        for effect in effects:
            if isinstance(effect, AwaitInput):
                event = Input("1234" if effect.node == "bank-pin" else "no")
            elif isinstance(effect, InvokeAi):
                event = AiResult("billing" if effect.task == "intent" else 0.1)
            elif isinstance(effect, CallIntegration):
                event = IntegrationReply({"seconds": 30, "waiting": 10})
            elif isinstance(effect, ScheduleCallback):
                event = CallbackAnswered("voice")
        assert event is not None, journey
        effects = executor.resume(journey, event, NOW)


def node_executions() -> dict[str, float]:
    bundle = load_paths([EXAMPLES / "support"])
    validate_bundle(bundle)
    stats = NodeStats()
    executors = [(c, Executor(render(bundle, "support", c)[0], stats=stats)) for c in CONTEXTS]
    started = time.perf_counter()
    for n in range(JOURNEYS):
        context, executor = executors[n % len(executors)]
        journey = Journey(journey_id=f"c{n}", flow="support")
        journey.region, journey.brand, journey.channel = (
            context["region"],
            context["brand"],
            context["channel"],
        )
        drive(executor, journey)
    elapsed = time.perf_counter() - started
    executed = sum(stats.executions.values())
    return {
        "journeys": JOURNEYS,
        "node_executions": executed,
        "seconds": elapsed,
        "per_second": executed / elapsed,
    }


def scenarios() -> dict[str, float]:
    bundle = load_paths([EXAMPLES / "support"])
    files = [load_scenarios(p.read_text(), str(p)) for p in sorted((EXAMPLES / "scenarios").glob("*.yaml"))]
    pool = [s for f in files for s in f.scenarios]
    repeated = [pool[n % len(pool)] for n in range(SCENARIOS)]
    batch = ScenarioFile(
        api_version="contactcenter.dev/v1alpha1", kind="FlowScenarios", flow="support", scenarios=repeated
    )
    simulator = Simulator(bundle)
    started = time.perf_counter()
    results = simulator.run(batch)
    elapsed = time.perf_counter() - started
    failed = sum(not r.passed for r in results)
    if failed:
        raise SystemExit(f"{failed} scenarios failed: the benchmark measures passing scenarios only")
    return {"scenarios": len(results), "seconds": elapsed, "per_second": len(results) / elapsed}


def main() -> None:
    steps = node_executions()
    simulated = scenarios()
    for label, measured, count in (
        ("node executions", steps, "node_executions"),
        ("scenarios", simulated, "scenarios"),
    ):
        rate = measured["per_second"]
        print(f"{label}: {measured[count]:.0f} in {measured['seconds']:.3f}s ({rate:,.0f}/s)")
    print_report(
        "flows",
        {"executor": steps, "simulator": simulated},
        [
            Goal("node_executions_per_second", ">=", 20_000, steps["per_second"]),
            Goal("seconds_for_10000_scenarios", "<", 5.0, simulated["seconds"]),
        ],
    )


if __name__ == "__main__":
    main()
