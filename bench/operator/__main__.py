"""`make bench-operator`: time to reconcile 1, 10 and 50 ContactCenters from create to `Ready`.

The real operator (every kopf handler, in this process) runs against kmock, an in-memory Kubernetes
API. kmock runs no Deployment controller, so a simulated one marks every Deployment's replicas ready
as soon as it appears; the operator sees that on its next level-based pass (resync interval below),
which is part of what is measured. NATS is replaced by a recording fake: placement has its own test.

Goals (issue 9): under 1 s per resource, and growth linear or better (time(50)/time(10) <= 5).
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
    running_operator,
    simulate_ready,
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


async def play_deployment_controller(cluster: ApiServerEmulator, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await simulate_ready(cluster, NAMESPACE)
        await asyncio.sleep(0.05)


async def measure(count: int) -> dict[str, Any]:
    async with ApiServerEmulator() as cluster, kmock.Server(cluster):
        declare_resources(cluster)
        config = Config(kube_api_url=str(cluster.url), resync_seconds=RESYNC_SECONDS, manage_nats=False)
        kube = KubeClient(kopf.ConnectionInfo(server=str(cluster.url)))
        runtime = Runtime(config=config, kube=kube, dataplane=RecordingDataPlane())
        stop = asyncio.Event()
        async with running_operator(runtime):
            controller = asyncio.create_task(play_deployment_controller(cluster, stop))
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
        }


async def main() -> None:
    logging.getLogger("kopf").setLevel(logging.ERROR)
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    runs = {}
    for size in SIZES:
        runs[str(size)] = await measure(size)
        print(f"{size:>3} resources: {runs[str(size)]}")
    largest, middle = runs[str(SIZES[-1])], runs[str(SIZES[-2])]
    growth = largest["total_seconds"] / middle["total_seconds"]
    size_ratio = SIZES[-1] / SIZES[-2]
    exponent = math.log(growth) / math.log(size_ratio)
    results = {"runs": runs, "resync_seconds": RESYNC_SECONDS, "growth_exponent_10_to_50": round(exponent, 3)}
    print_report(
        "operator",
        results,
        [
            Goal("seconds_per_resource_at_50", "<=", 1.0, largest["seconds_per_resource"]),
            Goal("growth_exponent_10_to_50", "<=", 1.0, exponent),
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
