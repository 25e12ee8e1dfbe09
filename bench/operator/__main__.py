"""`make bench-operator`: time to reconcile 1, 10 and 50 ContactCenters from create to `Ready`.

The real operator (every kopf handler, in this process) runs against kmock, an in-memory Kubernetes
API. kmock runs no Deployment controller, so a simulated one marks every Deployment's replicas ready
as soon as it appears; the operator sees that on its next level-based pass (resync interval below),
which is part of what is measured. NATS is replaced by a recording fake: placement has its own test.

Goals (issue 9): under 1 s per resource, and growth linear or better (time(50)/time(10) <= 5).

Where the time goes: the emulator counts every API request by client (kopf, the operator's own
client) and times how long it spends serving them. `api_requests_per_resource_growth` (requests per
resource at 50 / at 10) says whether the operator's own work is linear, independently of how
kmock's per-request cost grows with the objects it stores (`emulator_ms_per_request`). Requests per
resource = passes per resource x requests per pass: the second is the work of one pass, the first
grows when a run outlasts the resync interval (each resource gets one more pass). Emulator time is
wall time inside its handler, in the same event loop as the operator, so it includes waiting for the
loop while other tasks run: under load it overstates kmock's own cost.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from typing import Any

import kmock
import kopf

from bench.report import Goal, print_report
from ccoperator.config import Config
from ccoperator.kube.client import KubeClient
from ccoperator.runtime import Runtime
from ccoperator.testing.kmock_cluster import (
    CR_RESOURCE,
    ApiServerEmulator,
    RecordingDataPlane,
    api,
    contactcenter,
    declare_resources,
    mark_ready,
    not_ready_deployments,
    running_operator,
)

NAMESPACE = "bench"
SIZES = (1, 10, 50)
RESYNC_SECONDS = 5.0
TIMEOUT_SECONDS = 120.0


def ready_since(cluster: ApiServerEmulator, name: str) -> bool:
    try:
        raw = cluster.objects[CR_RESOURCE, NAMESPACE, name].raw
    except KeyError:
        return False
    conditions = (raw.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def play_deployment_controller(
    cluster: ApiServerEmulator, stop: asyncio.Event, spent: list[float]
) -> None:
    """The simulated controller; `spent[0]` accumulates the loop time its scans of every object block."""
    while not stop.is_set():
        started = time.perf_counter()
        stale = not_ready_deployments(cluster, NAMESPACE)
        spent[0] += time.perf_counter() - started
        await mark_ready(cluster, NAMESPACE, stale)
        await asyncio.sleep(0.05)


OPERATOR_CLIENTS = ("kopf", "ccoperator")


def request_figures(cluster: ApiServerEmulator, count: int) -> dict[str, Any]:
    """Requests made by the operator (kopf + its own client) up to now, per resource and per pass."""
    counts = cluster.request_counts
    by_client = {c: sum(n for (client, _, _), n in counts.items() if client == c) for c in OPERATOR_CLIENTS}
    operator = sum(by_client.values())
    # Every pass starts by reading its ContactCenter with the operator's client.
    passes = counts["ccoperator", "FETCH", "contactcenters"]
    by_action: dict[str, int] = {}
    for (client, action, plural), n in sorted(counts.items()):
        if client in OPERATOR_CLIENTS:
            key = f"{client} {action} {plural}"
            by_action[key] = by_action.get(key, 0) + n
    return {
        "api_requests_operator": operator,
        "api_requests_per_resource": round(operator / count, 2),
        "kopf_requests_per_resource": round(by_client["kopf"] / count, 2),
        "client_requests_per_resource": round(by_client["ccoperator"] / count, 2),
        "passes_per_resource": round(passes / count, 2),
        "client_requests_per_pass": round(by_client["ccoperator"] / passes, 2) if passes else None,
        "api_requests_all_clients": sum(counts.values()),
        "emulator_ms_per_request": round(1000 * cluster.served_seconds / max(cluster.served_requests, 1), 3),
        "emulator_seconds_total": round(cluster.served_seconds, 3),
        "requests_by_action": by_action,
    }


async def measure(count: int) -> dict[str, Any]:
    async with ApiServerEmulator() as cluster, kmock.Server(cluster):
        declare_resources(cluster)
        config = Config(kube_api_url=str(cluster.url), resync_seconds=RESYNC_SECONDS, manage_nats=False)
        kube = KubeClient(kopf.ConnectionInfo(server=str(cluster.url)))
        runtime = Runtime(config=config, kube=kube, dataplane=RecordingDataPlane())
        stop = asyncio.Event()
        async with running_operator(runtime):
            controller_seconds = [0.0]
            controller = asyncio.create_task(play_deployment_controller(cluster, stop, controller_seconds))
            names = [f"r{i}" for i in range(count)]
            created: dict[str, float] = {}
            ready: dict[str, float] = {}
            started = time.perf_counter()
            for name in names:
                created[name] = time.perf_counter()
                await api(
                    cluster,
                    "POST",
                    f"/apis/contactcenter.dev/v1alpha1/namespaces/{NAMESPACE}/contactcenters",
                    contactcenter(name, NAMESPACE, {"region": name}),
                )
            while len(ready) < count and time.perf_counter() - started < TIMEOUT_SECONDS:
                for name in names:
                    if name not in ready and ready_since(cluster, name):
                        ready[name] = time.perf_counter()
                await asyncio.sleep(0.01)
            total = time.perf_counter() - started
            requests = request_figures(cluster, count)
            requests["emulator_share_of_total"] = round(cluster.served_seconds / total, 3)
            requests["simulated_controller_scan_seconds"] = round(controller_seconds[0], 3)
            stop.set()
            await controller
        if len(ready) < count:
            raise RuntimeError(f"only {len(ready)}/{count} ContactCenters became Ready in {TIMEOUT_SECONDS}s")
        latencies = [ready[n] - created[n] for n in names]
        return {
            "resources": count,
            "total_seconds": round(total, 3),
            "seconds_per_resource": round(total / count, 4),
            "latency_median_seconds": round(statistics.median(latencies), 3),
            "latency_max_seconds": round(max(latencies), 3),
            **requests,
        }


async def main() -> None:
    logging.getLogger("kopf").setLevel(logging.ERROR)
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    runs = {}
    for size in SIZES:
        runs[str(size)] = await measure(size)
        summary = {k: v for k, v in runs[str(size)].items() if k != "requests_by_action"}
        print(f"{size:>3} resources: {summary}")
    largest, middle = runs[str(SIZES[-1])], runs[str(SIZES[-2])]
    growth = largest["total_seconds"] / middle["total_seconds"]
    size_ratio = SIZES[-1] / SIZES[-2]
    exponent = math.log(growth) / math.log(size_ratio)
    request_growth = largest["api_requests_per_resource"] / middle["api_requests_per_resource"]
    emulator_growth = largest["emulator_ms_per_request"] / middle["emulator_ms_per_request"]
    results = {
        "runs": runs,
        "resync_seconds": RESYNC_SECONDS,
        "growth_exponent_10_to_50": round(exponent, 3),
        "api_requests_per_resource_growth": round(request_growth, 3),
        "emulator_ms_per_request_growth": round(emulator_growth, 3),
        "passes_per_resource_growth": round(
            largest["passes_per_resource"] / middle["passes_per_resource"], 3
        ),
        "client_requests_per_pass_growth": round(
            largest["client_requests_per_pass"] / middle["client_requests_per_pass"], 3
        ),
    }
    print_report(
        "operator",
        results,
        [
            Goal("seconds_per_resource_at_50", "<=", 1.0, largest["seconds_per_resource"]),
            Goal("growth_exponent_10_to_50", "<=", 1.0, exponent),
            Goal("api_requests_per_resource_growth", "<=", 1.1, request_growth),
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
