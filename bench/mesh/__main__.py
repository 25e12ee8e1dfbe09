"""`make bench-mesh`: mesh RPC vs raw nats-py request/reply, measured in one run.

Same payload bytes on both sides (a serialized 256-byte EchoRequest), responders in their own
processes, the client in a third. Per transport: the median of sequential round trips and
the throughput with 100 requests in flight; rounds alternate raw/mesh and the best round of
each counts. The run repeats under three tracing set-ups (standard OTEL_* variables):

- `tracing_off` (OTEL_SDK_DISABLED=true): the runtime's own cost; the goals are
  judged here: mesh >= 0.8 of raw throughput, and <= 0.1 ms added to the sequential median;
- `sampled_1pct` (parentbased_traceidratio 0.01), a production sampling set-up;
- `always_on`: every call recorded, as `make run` does for development.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench.report import Goal, print_report
from ccmesh.natsserver import NatsServer, NatsServerSpec

SETUPS: dict[str, dict[str, str]] = {
    "tracing_off": {"OTEL_SDK_DISABLED": "true"},
    "sampled_1pct": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
    "always_on": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


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


def run_setup(url: str, extra: dict[str, str]) -> dict[str, float]:
    env = _env(extra)
    responders = [start_responder(url, "raw", env), start_responder(url, "mesh", env)]
    try:
        output = subprocess.run(
            [sys.executable, "-m", "bench.mesh.client", "--url", url],
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


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            results = {name: run_setup(server.url, extra) for name, extra in SETUPS.items()}
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
    judged = results["tracing_off"]
    print_report(
        "mesh",
        {"payload_bytes": 256, "in_flight": 100, **results},
        [
            Goal("throughput_ratio_100_in_flight", ">=", 0.8, judged["throughput_ratio"]),
            Goal("added_sequential_median_ms", "<=", 0.1, judged["added_sequential_median_ms"]),
        ],
    )


if __name__ == "__main__":
    main()
