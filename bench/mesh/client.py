"""The measuring process: raw and mesh rounds against the responders; prints one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import nats
import orjson

from bench.mesh.responder import RAW_SUBJECT
from ccmesh import telemetry
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.meshtest.v1 import meshtest_pb2, meshtest_pb2_grpc

PAYLOAD_BYTES = 256
SEQUENTIAL_CALLS = 3000
CONCURRENT_CALLS = 20000
IN_FLIGHT = 100
ROUNDS = 3

Call = Callable[[], Awaitable[object]]


async def sequential(call: Call, calls: int) -> float:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000.0


async def concurrent(call: Call, calls: int, in_flight: int) -> float:
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return calls / (time.perf_counter() - started)


async def measure(
    url: str,
    sequential_calls: int = SEQUENTIAL_CALLS,
    concurrent_calls: int = CONCURRENT_CALLS,
    rounds: int = ROUNDS,
) -> dict[str, float]:
    telemetry.setup_telemetry("bench-client", region="bench", version="0.0.0", instance_id="client")
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
    request = meshtest_pb2.EchoRequest(payload=b"x" * PAYLOAD_BYTES)
    data = request.SerializeToString()  # the raw side sends exactly these bytes
    stub = mesh_stub(meshtest_pb2_grpc.MeshTestServiceStub, MeshChannel(nc, "bench", default_timeout=10.0))

    async def raw_call() -> object:
        return await nc.request(RAW_SUBJECT, data, timeout=10.0)

    async def mesh_call() -> object:
        return await stub.Echo(request)

    best: dict[str, float] = {}
    for _ in range(rounds):  # alternate, so a noisy moment hits both transports alike
        for name, call in (("raw", raw_call), ("mesh", mesh_call)):
            await concurrent(call, 1000, IN_FLIGHT)  # warm-up
            median_ms = await sequential(call, sequential_calls)
            throughput = await concurrent(call, concurrent_calls, IN_FLIGHT)
            key_ms, key_tp = f"{name}_sequential_median_ms", f"{name}_throughput_100_in_flight"
            best[key_ms] = min(best.get(key_ms, float("inf")), median_ms)
            best[key_tp] = max(best.get(key_tp, 0.0), throughput)
    await nc.drain()
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--sequential", type=int, default=SEQUENTIAL_CALLS)
    parser.add_argument("--concurrent", type=int, default=CONCURRENT_CALLS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args()
    measured = asyncio.run(measure(options.url, options.sequential, options.concurrent, options.rounds))
    print(orjson.dumps(measured).decode(), flush=True)
