"""`make bench-mesh`: mesh RPC vs raw nats-py request/reply, measured in one run.

Same payload bytes on both sides (a serialized 256-byte EchoRequest), responders in their own
processes, the client in a third. Per transport: the median of sequential round trips and
the throughput with 100 requests in flight; rounds alternate raw/mesh and the best round of
each counts. The run repeats under three tracing set-ups (standard OTEL_* variables):

- `tracing_off` (OTEL_SDK_DISABLED=true): the runtime's own cost; the goals are
  judged here: mesh >= 0.8 of raw throughput, and <= 0.1 ms added to the sequential median;
- `sampled_1pct` (parentbased_traceidratio 0.01), a production sampling set-up;
- `always_on`: every call recorded, as `make run` does for development.

Then metrics export: `metrics_export_off` and `metrics_export_on` (both sampled 1%, the
production set-up) alternate PAIRS times; with export on, the mesh responder serves `/metrics`
and a Prometheus scrapes it every 5 s (`bench/metrics_export.py`). Goal: export costs at most
5% of the mesh throughput (best "on" round over best "off" round). `--quick` runs fewer calls.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.metrics_export import new_target, scraped
from bench.report import Goal, print_report
from ccmesh.natsserver import NatsServer, NatsServerSpec

SETUPS: dict[str, dict[str, str]] = {
    "tracing_off": {"OTEL_SDK_DISABLED": "true"},
    "sampled_1pct": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
    "always_on": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


#: Calls per measurement (`--quick` for the smaller set), and on/off alternations of metrics export.
FULL = ["--sequential", "3000", "--concurrent", "20000", "--rounds", "3"]
QUICK = ["--sequential", "500", "--concurrent", "4000", "--rounds", "2"]
PAIRS = 2
EXPORT_SETUP = SETUPS["sampled_1pct"]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(extra)
    return env


def start_responder(url: str, mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.mesh.responder", "--url", url, "--mode", mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(f"{mode} responder did not start")
    return process


def run_setup(
    url: str, extra: dict[str, str], calls: list[str], mesh_extra: dict[str, str] | None = None
) -> dict[str, float]:
    env = _env(extra)
    mesh_env = {**env, **(mesh_extra or {})}
    responders = [start_responder(url, "raw", env), start_responder(url, "mesh", mesh_env)]
    try:
        output = subprocess.run(
            [sys.executable, "-m", "bench.mesh.client", "--url", url, *calls],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        for responder in responders:
            responder.terminate()
            responder.wait(10)
    measured: dict[str, float] = orjson.loads(output.strip().splitlines()[-1])
    measured["throughput_ratio"] = (
        measured["mesh_throughput_100_in_flight"] / measured["raw_throughput_100_in_flight"]
    )
    measured["added_sequential_median_ms"] = (
        measured["mesh_sequential_median_ms"] - measured["raw_sequential_median_ms"]
    )
    return {key: round(value, 4) for key, value in measured.items()}


def export_pairs(url: str, calls: list[str], scratch: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """Best of PAIRS alternating runs without and with metrics export; and what scraped."""
    runs: dict[str, list[dict[str, float]]] = {"metrics_export_off": [], "metrics_export_on": []}
    scrapers: set[str] = set()
    for pair in range(PAIRS):
        runs["metrics_export_off"].append(run_setup(url, EXPORT_SETUP, calls))
        target, exposition = new_target("bench-responder")
        with scraped([target], scratch / f"prometheus-{pair}") as scraper:
            scrapers.add(scraper)
            runs["metrics_export_on"].append(run_setup(url, EXPORT_SETUP, calls, exposition))
    best: dict[str, dict[str, Any]] = {
        name: max(figures, key=lambda f: f["mesh_throughput_100_in_flight"]) for name, figures in runs.items()
    }
    for name, figures in runs.items():
        best[name] = {
            **best[name],
            "rounds_mesh_throughput_100_in_flight": [f["mesh_throughput_100_in_flight"] for f in figures],
        }
    return best, ",".join(sorted(scrapers))


def main() -> None:
    parser = argparse.ArgumentParser(description="mesh RPC vs raw request/reply; metrics export on vs off")
    parser.add_argument("--quick", action="store_true", help="fewer calls per measurement")
    options = parser.parse_args()
    calls = QUICK if options.quick else FULL
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            results = {name: run_setup(server.url, extra, calls) for name, extra in SETUPS.items()}
            export, scraper = export_pairs(server.url, calls, Path(scratch))
        finally:
            server.stop()
    for name, figures in results.items():
        print(
            f"{name:13s} raw {figures['raw_sequential_median_ms']:.3f} ms, "
            f"{figures['raw_throughput_100_in_flight']:.0f}/s | "
            f"mesh {figures['mesh_sequential_median_ms']:.3f} ms, "
            f"{figures['mesh_throughput_100_in_flight']:.0f}/s | ratio {figures['throughput_ratio']:.2f}, "
            f"+{figures['added_sequential_median_ms']:.3f} ms"
        )
    off, on = export["metrics_export_off"], export["metrics_export_on"]
    export_ratio = on["mesh_throughput_100_in_flight"] / off["mesh_throughput_100_in_flight"]
    print(
        f"metrics export off {off['mesh_throughput_100_in_flight']:.0f}/s, "
        f"on {on['mesh_throughput_100_in_flight']:.0f}/s (scraped by {scraper} every 5 s): "
        f"ratio {export_ratio:.3f}"
    )
    judged = results["tracing_off"]
    print_report(
        "mesh",
        {
            "payload_bytes": 256,
            "in_flight": 100,
            "quick": options.quick,
            **results,
            **export,
            "metrics_export_scraper": scraper,
            "metrics_export_scrape_seconds": 5,
            "metrics_export_throughput_ratio": round(export_ratio, 4),
        },
        [
            Goal("throughput_ratio_100_in_flight", ">=", 0.8, judged["throughput_ratio"]),
            Goal("added_sequential_median_ms", "<=", 0.1, judged["added_sequential_median_ms"]),
            # Serving /metrics to a scrape every 5 s costs at most 5% of the mesh throughput.
            Goal("metrics_export_throughput_ratio", ">=", 0.95, export_ratio),
        ],
    )


if __name__ == "__main__":
    main()
