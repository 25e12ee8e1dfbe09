"""The cluster side of the operator benchmark, in its own process: kmock, a simulated Deployment
controller, and the driver that creates ContactCenters and waits for them to be `Ready`.

It runs apart from the operator so that its cost (kmock finds objects and serves lists by scanning
everything it stores, and keeps every version of every object, which the garbage collector walks)
neither competes for the operator's event loop nor sits in the operator's heap. It reports its own
CPU and per-request figures so they can be read beside the operator's.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from multiprocessing.connection import Connection
from typing import Any

import kmock

from ccoperator.testing.kmock_cluster import (
    ApiServerEmulator,
    api,
    condition,
    contactcenter,
    declare_resources,
    simulate_ready,
)

NAMESPACE = "bench"


class GcClock:
    """CPU seconds this process spent in garbage collection since it was started (gc.callbacks).

    CPU, not wall time: on a shared machine a collection may be descheduled halfway, and that wait
    is not the collector's cost.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections += 1


def is_ready(cluster: ApiServerEmulator, name: str) -> bool:
    return condition(cluster, NAMESPACE, name, "Ready").get("status") == "True"


async def play_deployment_controller(cluster: ApiServerEmulator, stop: asyncio.Event) -> None:
    """Every Deployment reports all its replicas ready soon after it appears (kmock runs no controller)."""
    while not stop.is_set():
        await simulate_ready(cluster, NAMESPACE)
        await asyncio.sleep(0.05)


def request_figures(cluster: ApiServerEmulator) -> dict[str, Any]:
    return {
        "counts": {
            f"{client} {action} {plural}": n for (client, action, plural), n in cluster.request_counts.items()
        },
        "served_seconds": cluster.served_seconds,
        "served_requests": cluster.served_requests,
    }


async def _receive(conn: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


async def _serve(conn: Connection, count: int, timeout_seconds: float) -> None:
    gc_clock = GcClock()
    async with ApiServerEmulator() as cluster, kmock.Server(cluster):
        declare_resources(cluster)
        conn.send(str(cluster.url))
        await _receive(conn)  # the operator is up and watching
        stop = asyncio.Event()
        controller = asyncio.create_task(play_deployment_controller(cluster, stop))
        names = [f"r{i}" for i in range(count)]
        created: dict[str, float] = {}
        ready: dict[str, float] = {}
        cpu_before, gc_before = time.process_time(), gc_clock.seconds
        before = request_figures(cluster)
        started = time.perf_counter()
        for name in names:
            created[name] = time.perf_counter()
            path = f"/apis/contactcenter.dev/v1alpha1/namespaces/{NAMESPACE}/contactcenters"
            await api(cluster, "POST", path, contactcenter(name, NAMESPACE, {"region": name}))
        while len(ready) < count and time.perf_counter() - started < timeout_seconds:
            for name in names:
                if name not in ready and is_ready(cluster, name):
                    ready[name] = time.perf_counter()
            await asyncio.sleep(0.01)
        total = time.perf_counter() - started
        after = request_figures(cluster)
        cpu, gc_seconds = time.process_time() - cpu_before, gc_clock.seconds - gc_before
        stop.set()
        await controller
        conn.send(
            {
                "ready": len(ready),
                "total_seconds": total,
                "latencies": [ready[n] - created[n] for n in names if n in ready],
                "counts": {k: v - before["counts"].get(k, 0) for k, v in after["counts"].items()},
                "served_seconds": after["served_seconds"] - before["served_seconds"],
                "served_requests": after["served_requests"] - before["served_requests"],
                "cpu_seconds": cpu,
                "gc_seconds": gc_seconds,
                "stored_objects": len(cluster.objects),
            }
        )
        await _receive(conn)  # the operator has stopped: nothing is connected any more


def serve(conn: Connection, count: int, timeout_seconds: float) -> None:
    """Process entry point: serve one run of `count` ContactCenters, talking to the parent over `conn`."""
    logging.getLogger("aiohttp").setLevel(logging.ERROR)
    asyncio.run(_serve(conn, count, timeout_seconds))
