"""`make bench-identity`: ResolveCustomer against the real mesh as the profile count grows.

A nats-server and the identity service (its own process, as in production, tracing off) run
locally; the client is this process. Profiles are generated straight into the region's
identity bucket (profile + phone index entry each, published with many in flight), then at
10k, 100k and 1M existing profiles the same measurements are taken on random existing phones:

- the median of sequential resolutions (the time per resolution), and
- throughput with 64 resolutions in flight.

The goal: the time per resolution at the largest size is within 1.5x of the 10k baseline
measured in the same run. `CC_BENCH_MAX_PROFILES` lowers the largest size (default 1,000,000).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
import orjson

from bench.report import Goal, print_report
from ccmesh import naming
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import NatsServer, NatsServerSpec
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from identity.domain.identifiers import Identifier, IdentifierKind

SECRET = "b" * 32
REGION = "eu"
TENANT = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
SIZES = [10_000, 100_000, 1_000_000]
SEQUENTIAL = 1500
IN_FLIGHT = 64
CONCURRENT_CALLS = 6000
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "eu.yaml"


def phone(n: int) -> str:
    return f"+49151{n:08d}"


def start_identity(url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CC_"))}
    env.update(
        {
            "OTEL_SDK_DISABLED": "true",
            "CC_REGION": REGION,
            "CC_NATS_URL": url,
            "CC_AUTH_SECRET": SECRET,
            "CC_GRPC_PORT": "-1",
            "CC_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen([sys.executable, "-m", "identity"], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if '"ready"' not in line:
        process.kill()
        raise RuntimeError(f"identity did not start: {line!r}")
    return process


async def generate(js: nats.js.JetStreamContext, start: int, stop: int) -> float:
    """Write profiles [start, stop) into the bucket; returns profiles per second.

    Published with many acks outstanding (`publish_async`); every ack is awaited, so nothing
    generated is silently missing.
    """
    bucket = naming.identity_bucket(REGION)
    began = time.perf_counter()
    batch = 2000
    for first in range(start, stop, batch):
        acks = []
        for n in range(first, min(first + batch, stop)):
            customer_id = uuid.UUID(int=n + 1).hex
            identifier = Identifier(IdentifierKind.PHONE, phone(n))
            profile = orjson.dumps(
                {
                    "customer_id": customer_id,
                    "tenant_id": "globex",
                    "scope": "globex",
                    "home_region": REGION,
                    "identifiers": [{"kind": "phone", "value": identifier.value}],
                    "attributes": {"segment": "bench"},
                    "created_at": 1.7e9,
                }
            )
            index_key = f"idx.globex.{identifier.index_token()}"
            acks.append(await js.publish_async(f"$KV.{bucket}.cust.globex.{customer_id}", profile))
            acks.append(await js.publish_async(f"$KV.{bucket}.{index_key}", customer_id.encode()))
        await asyncio.wait_for(asyncio.gather(*acks), timeout=60)
    return (stop - start) / (time.perf_counter() - began)


async def measure(stub: object, existing: int) -> dict[str, float]:
    rng = random.Random(existing)

    def request() -> identity_pb2.ResolveCustomerRequest:
        value = phone(rng.randrange(existing))
        identifier = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=value)
        return identity_pb2.ResolveCustomerRequest(tenant=TENANT, identifiers=[identifier])

    resolve = stub.ResolveCustomer  # type: ignore[attr-defined]
    for _ in range(200):  # warm up caches and connections
        await resolve(request())
    times = []
    for _ in range(SEQUENTIAL):
        began = time.perf_counter()
        reply = await resolve(request())
        times.append(time.perf_counter() - began)
        assert not reply.created, "a generated profile was not found"
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            reply = await resolve(request())
            assert not reply.created

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(CONCURRENT_CALLS)))
    elapsed = time.perf_counter() - began
    return {
        "sequential_median_ms": statistics.median(times) * 1000,
        "sequential_p95_ms": statistics.quantiles(times, n=20)[18] * 1000,
        "throughput_64_in_flight": CONCURRENT_CALLS / elapsed,
    }


async def run(url: str, sizes: list[int]) -> dict[str, object]:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    (sourced,) = load_file(EXAMPLE)
    await (await ConfigStore.open(js)).apply(sourced.document)
    service = start_identity(url)
    try:
        token = TokenAuthority(SECRET).mint("globex", "agent", "bench", 3600)
        stub = mesh_stub(IdentityServiceStub, MeshChannel(nc, REGION, token=token, default_timeout=30))
        results: dict[str, object] = {}
        generated = 0
        for size in sizes:
            rate = await generate(js, generated, size)
            generated = size
            figures = await measure(stub, size)
            figures["generation_profiles_per_s"] = rate
            results[str(size)] = {k: round(v, 3) for k, v in figures.items()}
            print(
                f"{size:>9,} profiles: {figures['sequential_median_ms']:.3f} ms median, "
                f"{figures['throughput_64_in_flight']:.0f}/s with {IN_FLIGHT} in flight "
                f"(generated at {rate:.0f} profiles/s)",
                flush=True,
            )
        return results
    finally:
        service.terminate()
        service.wait(30)
        await nc.drain()


def main() -> None:
    largest = int(os.environ.get("CC_BENCH_MAX_PROFILES", SIZES[-1]))
    sizes = [s for s in SIZES if s < largest] + [largest]
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            results = asyncio.run(run(server.url, sizes))
        finally:
            server.stop()
    base, top = results[str(sizes[0])], results[str(sizes[-1])]
    assert isinstance(base, dict) and isinstance(top, dict)
    ratio = top["sequential_median_ms"] / base["sequential_median_ms"]
    print_report(
        "identity",
        {
            "sizes": sizes,
            "in_flight": IN_FLIGHT,
            "by_size": results,
            "time_per_resolution_ratio": round(ratio, 3),
        },
        [
            Goal(f"time_per_resolution_{sizes[-1]}_vs_{sizes[0]}", "<=", 1.5, ratio),
            Goal(f"resolutions_per_s_at_{sizes[-1]}", ">", 0, float(top["throughput_64_in_flight"])),
        ],
    )


if __name__ == "__main__":
    main()
